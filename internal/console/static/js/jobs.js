// The Jobs page: every job with its progress, counts, first failures and error
// report, polled while any runs.
"use strict";

import { main, config, el, api, fmtNum, fmtDate, enc, plural, alertBox, statusBadge, show } from "./ui.js";

// expectedRows is job.ExpectedRows: rows of the pieces parsed so far, scaled to
// every piece, at least the rows written.
function expectedRows(j) {
  const p = j.Progress;
  if (!p || !p.PiecesParsed) return j.TotalProcessed;
  return Math.max(Math.floor(p.RowsParsed * j.TotalPieces / p.PiecesParsed), j.TotalProcessed);
}

function final(j) { return j.JobStatus === "COMPLETED" || j.JobStatus === "FAILED"; }

// jobsPage lists every job, newest first, and polls while any runs: a card is
// updated in place, so focus and open details survive the refresh.
// jobsPage returns the function that stops its polling.
export function jobsPage(only) {
  show(only ? "Import job" : "Jobs");
  const heading = main.querySelector("h1");
  const live = el("p", { class: "muted", "aria-live": "polite" }, "Loading jobs…");
  const list = el("div", { class: "cards" });
  main.replaceChildren(heading, live, list);
  const cards = new Map();
  let timer = null, stopped = false;
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
  return () => { stopped = true; clearTimeout(timer); };
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

