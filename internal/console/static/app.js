// segport console. Plain JavaScript, no build step: pages are built with DOM calls
// (never innerHTML with data) from the query API (/v1/...) and the console's own
// endpoints (/console/api/...), on the same origin.
"use strict";

const main = document.getElementById("main");
let config = { Bucket: "", ImportsPrefix: "imports/", MaxFiles: 10, DryRunBytes: 65536 };
let leave = null; // the current page's clean-up (stops polling)

// el builds an element: el("a", {href: "#"}, "text", child...). Attributes whose
// name starts with "on" are listeners; null children are skipped.
function el(tag, attrs, ...children) {
  const svg = ["svg", "rect", "text", "g", "line", "title"].includes(tag);
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.setAttribute("class", v);
    else if (k in e && !svg && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// apiError carries the API's error message ({"Code","Message"}).
class apiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, opts) {
  const res = await fetch(path, Object.assign({ headers: { "Accept": "application/json" } }, opts || {}));
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    const msg = body && body.Message ? body.Message : `${res.status} ${res.statusText}`;
    throw new apiError(res.status, body && body.Code, msg);
  }
  return body;
}

const fmtNum = (n) => (n === undefined || n === null) ? "–" : Number(n).toLocaleString("en-US");
const fmtDate = (s) => s ? s.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–";
const enc = encodeURIComponent;
const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? "" : "s"}`;

function alertBox(err) {
  return el("div", { class: "alert", role: "alert" }, err instanceof Error ? err.message : String(err));
}

function statusBadge(status) {
  const cls = status === "COMPLETED" ? "COMPLETED" : status === "FAILED" ? "FAILED" : "running";
  return el("span", { class: "status " + cls }, status);
}

function channels(counts) {
  const parts = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${fmtNum(n)}`);
  return parts.length ? parts.join(", ") : "–";
}

function table(head, rows, numeric) {
  numeric = numeric || [];
  return el("div", { class: "table-wrap" }, el("table", null,
    el("thead", null, el("tr", null, head.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", null, rows.map((r) => el("tr", null, r.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null }, c)))))));
}

// show replaces the page, titles it and moves the focus to its heading, so that
// keyboard and screen reader users land on the new page.
function show(title, ...content) {
  const h1 = el("h1", { tabindex: "-1" }, title);
  main.replaceChildren(h1, ...content);
  document.title = title + " – segport console";
  h1.focus();
}

// expectedRows is job.ExpectedRows: rows of the pieces parsed so far, scaled to
// every piece, at least the rows written.
function expectedRows(j) {
  const p = j.Progress;
  if (!p || !p.PiecesParsed) return j.TotalProcessed;
  return Math.max(Math.floor(p.RowsParsed * j.TotalPieces / p.PiecesParsed), j.TotalProcessed);
}

function final(j) { return j.JobStatus === "COMPLETED" || j.JobStatus === "FAILED"; }

// ---------- Segments ----------

async function segmentsPage() {
  show("Segments", el("p", { class: "muted" }, "Loading segments…"));
  const heading = main.querySelector("h1");
  const newButton = el("p", null, el("a", { class: "button", href: "#/import" }, "New segment"));
  const segs = [];
  let token = "";
  try {
    do {
      const page = await api("/v1/segments?page-size=100" + (token ? "&token=" + enc(token) : ""));
      segs.push(...page.Item);
      token = page.NextToken || "";
    } while (token && segs.length < 1000);
  } catch (e) {
    main.replaceChildren(heading, alertBox(e));
    return;
  }
  if (segs.length === 0) {
    main.replaceChildren(heading, newButton, el("p", { class: "empty" },
      `No segments yet: drop a file into s3://${config.Bucket}/${config.ImportsPrefix}NAME/ or use `,
      el("a", { href: "#/import" }, "Import segment"), "."));
    return;
  }
  segs.sort((a, b) => a.Name.localeCompare(b.Name));
  const rows = segs.map((s) => {
    const users = el("span", { class: "muted" }, "…");
    const last = el("span", { class: "muted" }, "…");
    countUsers(s.Id, users);
    lastImport(s.Id, last);
    return [el("a", { href: "#/segments/" + enc(s.Id) }, s.Name), fmtNum(s.Version), fmtNum(s.EndpointCount), users,
      channels(s.ImportDefinition.ChannelCounts), last];
  });
  main.replaceChildren(heading, newButton,
    el("p", { class: "muted" }, `${segs.length} segment${segs.length === 1 ? "" : "s"}. Endpoints are distinct members; users are distinct User.UserId among them.`),
    table(["Name", "Version", "Endpoints", "Users", "Channels", "Last import"], rows, [1, 2, 3]));
}

async function countUsers(id, into) {
  try {
    const u = await api(`/console/api/segments/${enc(id)}/users`);
    into.replaceChildren(u.Complete ? fmtNum(u.Users) : `${fmtNum(u.Users)}+ (first ${fmtNum(u.Members)} endpoints)`);
    into.className = "";
  } catch (e) {
    into.replaceChildren("?");
    into.title = e.message;
  }
}

async function lastImport(id, into) {
  try {
    const p = await api(`/v1/jobs/import?segment-id=${enc(id)}&page-size=1`);
    const j = p.Item[0];
    into.className = "";
    into.replaceChildren(j ? el("span", null, fmtDate(j.CreationDate), " ", statusBadge(j.JobStatus)) : "–");
  } catch (e) {
    into.replaceChildren("?");
    into.title = e.message;
  }
}

// ---------- One segment ----------

async function segmentPage(id) {
  show("Segment", el("p", { class: "muted" }, "Loading…"));
  let seg, jobs;
  try {
    seg = await api("/v1/segments/" + enc(id));
    jobs = (await api(`/v1/jobs/import?segment-id=${enc(seg.Id)}&page-size=100`)).Item;
  } catch (e) {
    show("Segment", alertBox(e), el("p", null, el("a", { href: "#/segments" }, "All segments")));
    return;
  }
  const users = el("span", { class: "muted" }, "…");
  countUsers(seg.Id, users);
  const d = seg.ImportDefinition;
  const facts = el("dl", { class: "facts" }, [
    ["Id", seg.Id], ["Version", fmtNum(seg.Version) + " (every import makes a new version)"],
    ["Endpoints", fmtNum(seg.EndpointCount)], ["Users", users],
    ["Endpoint definitions imported", fmtNum(d.Size)], ["Latest format", d.Format || "–"], ["Latest S3 URL", d.S3Url || "–"],
    ["Created", fmtDate(seg.CreationDate)], ["Last modified", fmtDate(seg.LastModifiedDate)],
  ].map(([k, v]) => [el("dt", null, k), el("dd", null, v)]));
  const members = el("section", { "aria-labelledby": "members-h" }, el("h2", { id: "members-h" }, "Members"));
  show(seg.Name, el("p", null, el("a", { href: "#/segments" }, "← All segments")), facts,
    el("h2", null, "Charts"),
    el("div", { class: "charts" }, channelChart(d.ChannelCounts), importsChart(jobs)),
    el("h2", null, "Imports"),
    jobs.length ? table(["Created", "Status", "Processed", "Failures", "S3 URL"], jobs.map((j) => [
      el("a", { href: "#/jobs/" + enc(j.Id) }, fmtDate(j.CreationDate)), statusBadge(j.JobStatus),
      fmtNum(j.TotalProcessed), fmtNum(j.TotalFailures), j.Definition.S3Url]), [2, 3])
      : el("p", { class: "empty" }, "No imports into this segment yet."),
    members);
  membersPage(seg.Id, members, "");
}

async function membersPage(id, section, token) {
  section.querySelectorAll(".page").forEach((n) => n.remove());
  const box = el("div", { class: "page" }, el("p", { class: "muted" }, "Loading members…"));
  section.append(box);
  try {
    const p = await api(`/v1/segments/${enc(id)}/endpoints?page-size=20` + (token ? "&token=" + enc(token) : ""));
    if (p.Item.length === 0 && !token) {
      box.replaceChildren(el("p", { class: "empty" }, "No members yet."));
      return;
    }
    box.replaceChildren(endpointTable(p.Item));
    if (p.NextToken) {
      box.append(el("button", { class: "secondary", onclick: () => membersPage(id, section, p.NextToken) }, "Next page of members"));
    }
  } catch (e) {
    box.replaceChildren(alertBox(e));
  }
}

function endpointTable(eps) {
  return table(["Id", "Channel", "Address", "User", "Country", "Status"], eps.map((e) => [
    el("a", { href: "#/endpoints/" + enc(e.Id) }, e.Id), e.ChannelType || "–", e.Address || "–",
    e.User && e.User.UserId ? e.User.UserId : "–", e.Location && e.Location.Country ? e.Location.Country : "–",
    e.EndpointStatus || "–"]));
}

// channelChart draws horizontal bars, one per channel, in plain SVG.
function channelChart(counts) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  const fig = el("figure", null, el("figcaption", null, "Endpoint definitions by channel"));
  if (!entries.length) { fig.append(el("p", { class: "empty" }, "Nothing imported yet.")); return fig; }
  const max = Math.max(...entries.map((e) => e[1]));
  const rowH = 26, labelW = 130, barW = 220, w = labelW + barW + 70, h = entries.length * rowH + 4;
  const summary = entries.map(([c, n]) => `${c}: ${n}`).join(", ");
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": "Channels: " + summary },
    el("title", null, "Channels: " + summary),
    entries.map(([c, n], i) => el("g", null,
      el("text", { x: 0, y: i * rowH + 17 }, c),
      el("rect", { x: labelW, y: i * rowH + 4, width: Math.max(2, barW * n / max), height: rowH - 8, fill: "#0a5cc2" }),
      el("text", { x: labelW + Math.max(2, barW * n / max) + 6, y: i * rowH + 17 }, fmtNum(n)))));
  fig.append(svg);
  return fig;
}

// importsChart draws one bar per import, oldest first: the rows it applied.
function importsChart(jobs) {
  const list = jobs.slice().reverse().slice(-30);
  const fig = el("figure", null, el("figcaption", null, "Imports over time: endpoints processed per import"));
  if (!list.length) { fig.append(el("p", { class: "empty" }, "No imports yet.")); return fig; }
  const max = Math.max(1, ...list.map((j) => j.TotalProcessed));
  const barW = 22, gap = 8, chartH = 120, w = Math.max(200, list.length * (barW + gap) + 10), h = chartH + 24;
  const summary = list.map((j) => `${fmtDate(j.CreationDate)}: ${j.TotalProcessed} (${j.JobStatus})`).join("; ");
  const svg = el("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": "Imports: " + summary },
    el("title", null, "Imports: " + summary),
    el("line", { x1: 0, y1: chartH + 2, x2: w, y2: chartH + 2, stroke: "#57606a" }),
    list.map((j, i) => {
      const bh = Math.max(2, chartH * j.TotalProcessed / max);
      return el("g", null,
        el("rect", { x: 5 + i * (barW + gap), y: chartH + 2 - bh, width: barW, height: bh, fill: j.JobStatus === "FAILED" ? "#b42318" : "#1a7f37" },
          el("title", null, `${fmtDate(j.CreationDate)}: ${fmtNum(j.TotalProcessed)} processed, ${j.JobStatus}`)),
        el("text", { x: 5 + i * (barW + gap), y: chartH + 18 }, String(i + 1)));
    }));
  fig.append(svg, el("p", { class: "muted" }, `Imports 1 to ${list.length}: the first on ${fmtDate(list[0].CreationDate)}, the last on ${fmtDate(list[list.length - 1].CreationDate)}.`));
  return fig;
}

// ---------- Jobs ----------

// jobsPage lists every job, newest first, and polls while any runs: a card is
// updated in place, so focus and open details survive the refresh.
async function jobsPage(only) {
  show(only ? "Import job" : "Jobs");
  const heading = main.querySelector("h1");
  const live = el("p", { class: "muted", "aria-live": "polite" }, "Loading jobs…");
  const list = el("div", { class: "cards" });
  main.replaceChildren(heading, live, list);
  const cards = new Map();
  let timer = null, stopped = false;
  leave = () => { stopped = true; clearTimeout(timer); };
  async function poll() {
    let jobs;
    try {
      if (only) jobs = [await api("/v1/jobs/import/" + enc(only))];
      else jobs = (await api("/v1/jobs/import?page-size=100")).Item;
    } catch (e) {
      if (stopped) return;
      live.replaceChildren(alertBox(e));
      timer = setTimeout(poll, 3000);
      return;
    }
    if (stopped) return;
    if (jobs.length === 0) {
      live.replaceChildren(el("span", { class: "empty" },
        `No import jobs yet: drop a file into s3://${config.Bucket}/${config.ImportsPrefix}NAME/ or use `,
        el("a", { href: "#/import" }, "Import segment"), "."));
    }
    let prev = null;
    for (const j of jobs) {
      let card = cards.get(j.Id);
      if (!card) { card = jobCard(); cards.set(j.Id, card); }
      card.update(j);
      if (prev) prev.root.after(card.root); else list.prepend(card.root);
      prev = card;
    }
    const running = jobs.filter((j) => !final(j)).length;
    if (jobs.length) {
      live.replaceChildren(running ? `${running} of ${jobs.length} job${jobs.length === 1 ? "" : "s"} running; this page updates by itself.`
        : `${jobs.length} job${jobs.length === 1 ? "" : "s"}, all ended.`);
    }
    timer = setTimeout(poll, running ? 1000 : 5000);
  }
  poll();
}

function jobCard() {
  const title = el("h2");
  const status = el("span");
  const bar = el("progress", { max: 1, value: 0 });
  const progressText = el("span");
  const facts = el("dl", { class: "facts" });
  const failures = el("div");
  const report = el("p");
  const root = el("article", { class: "card" }, title, el("p", { class: "row" }, status, progressText), bar, facts, failures, report);
  let last = "";
  function update(j) {
    const key = JSON.stringify(j);
    if (key === last) return;
    last = key;
    root.dataset.job = j.Id;
    root.dataset.status = j.JobStatus;
    const seg = j.Definition.SegmentName || j.Definition.SegmentId;
    root.dataset.segment = seg || "";
    title.replaceChildren(seg ? el("a", { href: "#/segments/" + enc(j.Definition.SegmentId || seg) }, seg) : "(no segment)",
      " ", el("span", { class: "muted" }, "job ", el("a", { href: "#/jobs/" + enc(j.Id) }, j.Id)));
    status.replaceChildren(statusBadge(j.JobStatus));
    const expected = expectedRows(j);
    if (final(j)) {
      bar.hidden = true;
      progressText.replaceChildren(`${plural(j.TotalProcessed, "endpoint")} processed, ${fmtNum(j.TotalFailures)} failed`);
    } else {
      bar.hidden = false;
      bar.max = Math.max(expected, 1);
      bar.value = j.TotalProcessed;
      const parsed = j.Progress ? j.Progress.PiecesParsed : 0;
      bar.setAttribute("aria-label", `endpoints written of job ${j.Id}`);
      progressText.replaceChildren(`${fmtNum(j.TotalProcessed)}/${fmtNum(expected)} endpoints written` +
        (parsed < j.TotalPieces ? " (so far)" : "") + `, ${fmtNum(parsed)}/${fmtNum(j.TotalPieces)} pieces read`);
    }
    facts.replaceChildren(...[
      ["S3 URL", j.Definition.S3Url], ["Format", j.Definition.Format || "from the files"],
      ["Processed", fmtNum(j.TotalProcessed)], ["Failures", fmtNum(j.TotalFailures)],
      ["Pieces", `${fmtNum(j.CompletedPieces)} completed, ${fmtNum(j.FailedPieces)} failed, of ${fmtNum(j.TotalPieces)}`],
      ["Created", fmtDate(j.CreationDate)], ["Completed", fmtDate(j.CompletionDate)],
    ].map(([k, v]) => el("div", null, el("dt", null, k), el("dd", null, v))));
    const fails = j.Failures || [];
    if (fails.length) {
      const shown = fails.slice(0, 5);
      const details = failures.querySelector("details");
      const open = details ? details.open : false;
      failures.replaceChildren(el("details", { open: open || null },
        el("summary", null, `First failures (${fmtNum(shown.length)} of ${fmtNum(j.TotalFailures)})`),
        el("ul", { class: "failures" }, shown.map((f) => el("li", null, f)))));
    } else failures.replaceChildren();
    report.replaceChildren(j.ErrorReport && final(j) && j.TotalFailures > 0
      ? el("a", { href: `/console/api/jobs/${enc(j.Id)}/report`, download: `segport-errors-${j.Id}.csv`, class: "report" }, "Download the error report")
      : "");
  }
  return { root, update };
}

// ---------- Import segment ----------

async function importPage() {
  let segNames = [];
  try { segNames = (await api("/v1/segments?page-size=1000")).Item.map((s) => s.Name); } catch (e) { /* the form works without */ }
  const out = el("div", { "aria-live": "polite" });
  const name = el("input", { type: "text", id: "segment-name", name: "segment", list: "segment-names", required: true, autocomplete: "off" });
  const s3url = el("input", { type: "text", id: "s3-url", name: "s3url", placeholder: `s3://${config.Bucket}/folder-name`, autocomplete: "off" });
  const role = el("input", { type: "text", id: "role-arn", name: "role", autocomplete: "off" });
  const format = el("select", { id: "s3-format", name: "format" },
    el("option", { value: "" }, "From the files' names"), el("option", { value: "CSV" }, "CSV"), el("option", { value: "JSON" }, "JSON"));
  const files = el("input", { type: "file", id: "files", name: "files", multiple: true, accept: ".csv,.json,.jsonl,.ndjson,text/csv,application/json" });
  const preview = el("div", { id: "preview" });
  const srcS3 = el("input", { type: "radio", name: "source", id: "source-s3", value: "s3", checked: true });
  const srcFiles = el("input", { type: "radio", name: "source", id: "source-files", value: "files" });
  const s3Part = el("div", { id: "s3-part", class: "cards" },
    el("div", null, el("label", { for: "s3-url" }, "Amazon S3 URL ", el("span", { class: "hint" }, "s3://bucket-name/folder-name: every file in the folder and its subfolders")), s3url),
    el("div", null, el("label", { for: "role-arn" }, "IAM role ARN ", el("span", { class: "hint" }, "optional; segport reads its own bucket with its own role and does not use it")), role),
    el("div", null, el("label", { for: "s3-format" }, "What is the format of the files?"), format));
  const filesPart = el("div", { id: "files-part", hidden: true },
    el("label", { for: "files" }, "Files from this computer ", el("span", { class: "hint" }, `up to ${config.MaxFiles}, CSV or JSON in any mix: one import job per format`)),
    files, preview);
  const submit = el("button", { type: "submit", id: "import-submit" }, "Import segment");
  const form = el("form", { id: "import-form", novalidate: true },
    el("div", null, el("label", { for: "segment-name" }, "Segment name ", el("span", { class: "hint" }, "a new name, or an existing segment to add to")), name,
      el("datalist", { id: "segment-names" }, segNames.map((n) => el("option", { value: n })))),
    el("fieldset", { class: "radio" }, el("legend", null, "Where are the endpoints?"),
      srcS3, el("label", { for: "source-s3" }, "In Amazon S3"), srcFiles, el("label", { for: "source-files" }, "Files on this computer")),
    s3Part, filesPart, el("div", null, submit), out);
  const toggle = () => { s3Part.hidden = !srcS3.checked; filesPart.hidden = srcS3.checked; };
  srcS3.addEventListener("change", toggle);
  srcFiles.addEventListener("change", toggle);
  files.addEventListener("change", () => dryRunAll(files.files, preview));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const segment = name.value.trim();
    if (!segment) { out.replaceChildren(alertBox("Segment name is required")); name.focus(); return; }
    submit.disabled = true;
    try {
      if (srcS3.checked) {
        if (!s3url.value.trim()) throw new Error("Amazon S3 URL is required: s3://bucket-name/folder-name");
        const body = { S3Url: s3url.value.trim(), SegmentName: segment };
        if (format.value) body.Format = format.value;
        if (role.value.trim()) body.RoleArn = role.value.trim();
        await api("/v1/jobs/import", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      } else {
        await uploadAll(files.files, segment, out);
      }
      location.hash = "#/jobs";
    } catch (e) {
      out.replaceChildren(alertBox(e));
    } finally {
      submit.disabled = false;
    }
  });
  show("Import segment", el("p", { class: "muted" }, "A segment is made of the endpoints of every import into it. Each import shows on the ",
    el("a", { href: "#/jobs" }, "Jobs"), " page, which updates by itself."), form);
}

function checkFiles(list) {
  if (!list || list.length === 0) throw new Error("Choose at least one file");
  if (list.length > config.MaxFiles) throw new Error(`Choose at most ${config.MaxFiles} files: ${list.length} are chosen`);
  const names = new Set();
  for (const f of list) {
    if (f.size > config.MaxFileBytes) throw new Error(`${f.name}: a file from the computer may hold at most 1 GiB; put larger files in the bucket with the AWS CLI or segport import`);
    if (f.size === 0) throw new Error(`${f.name} is empty`);
    if (names.has(f.name)) throw new Error(`Two files are named ${f.name}: rename one`);
    names.add(f.name);
  }
}

// dryRunAll sends the start of each file to the server's decoder and shows the
// first rows with their errors, before anything is uploaded.
async function dryRunAll(list, preview) {
  preview.replaceChildren();
  try { checkFiles(list); } catch (e) { preview.append(alertBox(e)); return; }
  for (const f of list) {
    const sec = el("section", { class: "card dry-run", "data-file": f.name }, el("h2", null, "Dry run: " + f.name), el("p", { class: "muted" }, "Reading…"));
    preview.append(sec);
    const partial = f.size > config.DryRunBytes;
    try {
      const head = f.slice(0, config.DryRunBytes);
      const r = await api(`/console/api/dry-run?name=${enc(f.name)}&partial=${partial ? 1 : 0}`, { method: "POST", body: head });
      sec.replaceChildren(sec.firstChild, ...dryRunView(r));
    } catch (e) {
      sec.replaceChildren(sec.firstChild, alertBox(e));
    }
  }
}

function dryRunView(r) {
  const parts = [el("p", { class: "summary" }, `${r.Format}: ${fmtNum(r.Checked)} rows checked` +
    (r.Partial ? ` in the first ${fmtNum(r.Bytes)} bytes` : "") + `: ${fmtNum(r.Valid)} valid, ${fmtNum(r.Invalid)} with errors.`)];
  if (r.Error) parts.push(el("div", { class: "alert", role: "alert" }, "The file cannot be imported: " + r.Error.Message));
  if (r.Rows.length) {
    parts.push(table(["Line", "Result", "Channel", "Address", "Id"], r.Rows.map((row) => {
      if (!row.Endpoint) return [String(row.Line), el("span", { class: "status bad" }, (row.Field ? row.Field + ": " : "") + row.Message), "", "", ""];
      const e = row.Endpoint;
      return [String(row.Line), el("span", { class: "status ok" }, "valid"), e.ChannelType || "–", e.Address || "–", e.Id];
    }), [0]));
    if (r.Checked > r.Rows.length) parts.push(el("p", { class: "muted" }, `The first ${r.Rows.length} rows are shown.`));
  }
  return parts;
}

// uploadAll puts each file into the bucket through the console, then starts one
// job per format.
async function uploadAll(list, segment, out) {
  checkFiles(list);
  const batch = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  let i = 0;
  for (const f of list) {
    i++;
    out.replaceChildren(el("p", null, `Uploading ${f.name} (${i} of ${list.length})…`));
    await api(`/console/api/uploads/${batch}/${enc(f.name)}`, { method: "PUT", body: f });
  }
  out.replaceChildren(el("p", null, "Starting the import…"));
  return api(`/console/api/uploads/${batch}/start`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ SegmentName: segment }) });
}

// ---------- Endpoints ----------

function endpointsPage(id) {
  const epInput = el("input", { type: "text", id: "endpoint-id", name: "endpoint", autocomplete: "off", value: id || "" });
  const userInput = el("input", { type: "text", id: "user-id", name: "user", autocomplete: "off" });
  const result = el("div", { id: "lookup-result", "aria-live": "polite" });
  const epForm = el("form", { id: "endpoint-form" },
    el("div", null, el("label", { for: "endpoint-id" }, "Endpoint id"), epInput), el("div", null, el("button", { type: "submit" }, "Look up endpoint")));
  const userForm = el("form", { id: "user-form" },
    el("div", null, el("label", { for: "user-id" }, "User id ", el("span", { class: "hint" }, "User.UserId: every endpoint of the user")), userInput),
    el("div", null, el("button", { type: "submit" }, "Look up user's endpoints")));
  epForm.addEventListener("submit", (ev) => { ev.preventDefault(); lookupEndpoint(epInput.value.trim(), result); });
  userForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const u = userInput.value.trim();
    if (!u) { result.replaceChildren(alertBox("User id is required")); return; }
    result.replaceChildren(el("p", { class: "muted" }, "Looking up…"));
    try {
      const p = await api(`/v1/users/${enc(u)}/endpoints?page-size=100`);
      result.replaceChildren(el("h2", null, `Endpoints of user ${u}`), endpointTable(p.Item),
        p.NextToken ? el("p", { class: "muted" }, "The first 100 are shown.") : null);
    } catch (e) { result.replaceChildren(alertBox(e)); }
  });
  show("Endpoints", epForm, userForm, result);
  if (id) lookupEndpoint(id, result);
}

async function lookupEndpoint(id, result) {
  if (!id) { result.replaceChildren(alertBox("Endpoint id is required")); return; }
  result.replaceChildren(el("p", { class: "muted" }, "Looking up…"));
  try {
    const e = await api("/v1/endpoints/" + enc(id));
    const rows = [["Id", e.Id], ["ChannelType", e.ChannelType], ["Address", e.Address], ["EndpointStatus", e.EndpointStatus],
      ["OptOut", e.OptOut], ["EffectiveDate", e.EffectiveDate], ["User.UserId", e.User && e.User.UserId]].filter((r) => r[1]);
    result.replaceChildren(el("h2", null, `Endpoint ${e.Id}`),
      el("dl", { class: "facts endpoint" }, rows.map(([k, v]) => [el("dt", null, k), el("dd", null, v)])),
      el("details", { open: true }, el("summary", null, "Canonical JSON"), el("pre", null, JSON.stringify(e, null, 2))));
  } catch (err) { result.replaceChildren(alertBox(err)); }
}

// ---------- Routing ----------

const routes = [
  [/^#\/segments\/(.+)$/, (m) => segmentPage(decodeURIComponent(m[1])), "segments"],
  [/^#\/segments$/, () => segmentsPage(), "segments"],
  [/^#\/import$/, () => importPage(), "import"],
  [/^#\/jobs\/(.+)$/, (m) => jobsPage(decodeURIComponent(m[1])), "jobs"],
  [/^#\/jobs$/, () => jobsPage(), "jobs"],
  [/^#\/endpoints\/(.+)$/, (m) => endpointsPage(decodeURIComponent(m[1])), "endpoints"],
  [/^#\/endpoints$/, () => endpointsPage(), "endpoints"],
];

function route() {
  if (leave) { leave(); leave = null; }
  const hash = location.hash || "#/segments";
  for (const [re, page, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    document.querySelectorAll("nav a").forEach((a) => {
      if (a.dataset.page === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    page(m);
    return;
  }
  show("Not found", el("p", null, "No page " + hash + ". ", el("a", { href: "#/segments" }, "Segments")));
}

async function start() {
  // The skip link moves the focus to the page, not the route to "#main".
  document.querySelector(".skip").addEventListener("click", (ev) => { ev.preventDefault(); main.focus(); });
  try { config = await api("/console/api/config"); } catch (e) { main.append(alertBox(e)); }
  window.addEventListener("hashchange", route);
  route();
}

start();
