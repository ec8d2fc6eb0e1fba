// The Endpoints page: one endpoint by id, or a user's endpoints.
"use strict";

import { el, api, enc, alertBox, show, endpointTable } from "./ui.js";

export function endpointsPage(id) {
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

