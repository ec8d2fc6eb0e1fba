// The console's building blocks: DOM construction, API calls, formatting and the
// page frame. Pages are built with DOM calls, never innerHTML with data.
"use strict";

export const main = document.getElementById("main");

// config is what GET /console/api/config says (app.js loads it first).
export const config = { Bucket: "", ImportsPrefix: "imports/", MaxFiles: 10, MaxFileBytes: 1 << 30, DryRunBytes: 65536 };

// el builds an element: el("a", {href: "#"}, "text", child...). Attributes whose
// name starts with "on" are listeners; null children are skipped.
export function el(tag, attrs, ...children) {
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
export class apiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(path, opts) {
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

export const fmtNum = (n) => (n === undefined || n === null) ? "–" : Number(n).toLocaleString("en-US");
export const fmtDate = (s) => s ? s.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–";
export const enc = encodeURIComponent;
export const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? "" : "s"}`;

export function alertBox(err) {
  return el("div", { class: "alert", role: "alert" }, err instanceof Error ? err.message : String(err));
}

export function statusBadge(status) {
  const cls = status === "COMPLETED" ? "COMPLETED" : status === "FAILED" ? "FAILED" : "running";
  return el("span", { class: "status " + cls }, status);
}

export function channels(counts) {
  const parts = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${fmtNum(n)}`);
  return parts.length ? parts.join(", ") : "–";
}

export function table(head, rows, numeric) {
  numeric = numeric || [];
  return el("div", { class: "table-wrap" }, el("table", null,
    el("thead", null, el("tr", null, head.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", null, rows.map((r) => el("tr", null, r.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null }, c)))))));
}

// show replaces the page, titles it and moves the focus to its heading, so that
// keyboard and screen reader users land on the new page.
export function show(title, ...content) {
  const h1 = el("h1", { tabindex: "-1" }, title);
  main.replaceChildren(h1, ...content);
  document.title = title + " – segport console";
  h1.focus();
}


export function endpointTable(eps) {
  return table(["Id", "Channel", "Address", "User", "Country", "Status"], eps.map((e) => [
    el("a", { href: "#/endpoints/" + enc(e.Id) }, e.Id), e.ChannelType || "–", e.Address || "–",
    e.User && e.User.UserId ? e.User.UserId : "–", e.Location && e.Location.Country ? e.Location.Country : "–",
    e.EndpointStatus || "–"]));
}

