// The Import segment page: an S3 URL, or files from the computer with a dry run
// of their first rows before anything is uploaded.
"use strict";

import { config, el, api, fmtNum, enc, alertBox, table, show } from "./ui.js";

export async function importPage() {
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

