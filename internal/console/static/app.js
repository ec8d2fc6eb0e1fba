// segport console. Plain JavaScript modules, no build step: each page is a module
// under js/ that reads the query API (/v1/...) and the console's own endpoints
// (/console/api/...), on the same origin; this one routes between them.
"use strict";

import { main, config, el, api, alertBox, show } from "./js/ui.js";
import { segmentsPage, segmentPage } from "./js/segments.js";
import { jobsPage } from "./js/jobs.js";
import { importPage } from "./js/import.js";
import { endpointsPage } from "./js/endpoints.js";

let leave = null; // the current page's clean-up (the Jobs page's polling)

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
    const stop = page(m); // the Jobs page returns how to stop its polling
    leave = typeof stop === "function" ? stop : null;
    return;
  }
  show("Not found", el("p", null, "No page " + hash + ". ", el("a", { href: "#/segments" }, "Segments")));
}

async function start() {
  // The skip link moves the focus to the page, not the route to "#main".
  document.querySelector(".skip").addEventListener("click", (ev) => { ev.preventDefault(); main.focus(); });
  try { Object.assign(config, await api("/console/api/config")); } catch (e) { main.append(alertBox(e)); }
  window.addEventListener("hashchange", route);
  route();
}

start();
