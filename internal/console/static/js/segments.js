// The Segments page and one segment's page: facts, charts (plain SVG), imports
// and members.
"use strict";

import { main, config, el, api, fmtNum, fmtDate, enc, alertBox, statusBadge, channels, table, show, endpointTable } from "./ui.js";

export async function segmentsPage() {
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
  const tasks = [];
  const rows = segs.map((s) => {
    const users = el("span", { class: "muted" }, "…");
    const last = el("span", { class: "muted" }, "…");
    tasks.push(() => countUsers(s.Id, users), () => lastImport(s.Id, last));
    return [el("a", { href: "#/segments/" + enc(s.Id) }, s.Name), fmtNum(s.Version), fmtNum(s.EndpointCount), users,
      channels(s.ImportDefinition.ChannelCounts), last];
  });
  main.replaceChildren(heading, newButton,
    el("p", { class: "muted" }, `${segs.length} segment${segs.length === 1 ? "" : "s"}. Endpoints are distinct members; users are distinct User.UserId among them.`),
    table(["Name", "Version", "Endpoints", "Users", "Channels", "Last import"], rows, [1, 2, 3]));
  inTurn(tasks, 4);
}

// inTurn runs the tasks, at most n at a time: a page of many segments does not
// send hundreds of requests at once.
async function inTurn(tasks, n) {
  const next = async () => { for (let t = tasks.shift(); t; t = tasks.shift()) await t(); };
  await Promise.all(Array.from({ length: n }, next));
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

export async function segmentPage(id) {
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

