// tokens.js: the tokens an admin may see (GET /v1/tokens: never their
// text), revoking one, and making one: its text is shown this once.
"use strict";

const ROLES = ["read", "produce", "invoke", "operate", "admin"];

sluice.pages.tokens = async function (main) {
  const tbody = h("tbody");
  const table = h("table", { class: "grid tokens", "aria-label": "Tokens" },
    h("thead", {}, h("tr", {}, ["Name", "Id", "Grants", "Created", "Expires", "Last used", "Created by", ""].map(c => h("th", { scope: "col" }, c)))), tbody);
  const listBox = h("div", { class: "scroll" }, table);
  const load = async () => {
    let list;
    try { list = (await api("GET", "/v1/tokens")).tokens; } catch (e) { listBox.replaceChildren(errorBox(e)); return false; }
    list.sort((a, b) => a.name.localeCompare(b.name));
    tbody.replaceChildren(...list.map(t => tokenRow(t, load)));
    if (!list.length) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No tokens you may see.")));
    return true;
  };
  main.append(h("div", { class: "head" }, h("h1", {}, "Tokens"), h("span", { class: "muted" }, "who may do what on this node (docs/ACCESS.md)")), listBox);
  if (await load()) main.append(tokenForm(load));
};

function tokenRow(t, reload) {
  const self = sluice.session.token && sluice.session.token.id === t.id;
  const revoke = async () => {
    if (!confirm(`Revoke the token ${t.name} (${t.id})? Whatever uses it is refused within a second.` + (self ? " It is the token of this session: you will be signed out." : ""))) return;
    try { await api("DELETE", "/v1/tokens/" + encodeURIComponent(t.id)); toast(`Token ${t.name} revoked`); }
    catch (e) { toast(e.message, true); return; }
    reload();
  };
  return h("tr", { "data-token": t.id },
    h("td", {}, t.name, self ? h("span", { class: "badge", title: "the token this browser signed in with" }, "this session") : null),
    h("td", {}, h("code", {}, t.id)),
    h("td", {}, h("ul", { class: "grants" }, (t.grants || []).map(g => h("li", {}, h("code", {}, g.resource + "=" + g.role))))),
    h("td", {}, fmtTime(t.created)),
    h("td", {}, t.expires ? fmtTime(t.expires) : h("span", { class: "muted" }, "never")),
    h("td", {}, t.last_used ? fmtTime(t.last_used) : h("span", { class: "muted" }, "not yet")),
    h("td", {}, t.created_by ? h("code", {}, t.created_by) : ""),
    h("td", {}, h("button", { type: "button", class: "small revoke", "aria-label": "Revoke " + t.name, onclick: revoke }, "Revoke")));
}

// parseGrants reads one RESOURCE=ROLE a line; it checks the form only
// (the node names what else is wrong).
function parseGrants(text) {
  const grants = [], errors = [];
  text.split("\n").map(l => l.trim()).forEach((l, i) => {
    if (!l) return;
    const at = l.lastIndexOf("=");
    const resource = l.slice(0, at).trim(), role = l.slice(at + 1).trim();
    if (at < 1 || !resource) errors.push(`line ${i + 1}: want RESOURCE=ROLE, e.g. stream:wiki.*=read`);
    else if (!ROLES.includes(role)) errors.push(`line ${i + 1}: role ${JSON.stringify(role)}: want one of ${ROLES.join(", ")}`);
    else grants.push({ resource, role });
  });
  if (!grants.length && !errors.length) errors.push("at least one grant");
  return { grants, errors };
}

// tokenForm makes a token and shows its text once.
function tokenForm(reload) {
  const name = h("input", { name: "name", required: true, autocomplete: "off", spellcheck: "false", placeholder: "wiki-readers" });
  const grants = h("textarea", { name: "grants", rows: 4, class: "code", spellcheck: "false", placeholder: "stream:wiki.*=read\ntable:page_images=read" });
  const expires = h("input", { name: "expires", autocomplete: "off", spellcheck: "false", placeholder: "720h, 30d" });
  const grantsErr = h("div", { class: "field-error", "aria-live": "polite" });
  const out = h("div", { class: "token-result" });
  const form = h("form", { class: "card token-form", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const g = parseGrants(grants.value);
    grantsErr.textContent = g.errors.join("\n");
    grants.setAttribute("aria-invalid", g.errors.length ? "true" : "false");
    if (g.errors.length) { grants.focus(); return; }
    const body = { name: name.value.trim(), grants: g.grants };
    if (expires.value.trim()) body.expires = expires.value.trim();
    let made;
    try { made = await api("POST", "/v1/tokens", { body }); } catch (e) { out.append(errorBox(e)); return; }
    name.value = ""; grants.value = ""; expires.value = "";
    const box = newTokenBox(made);
    out.append(box);
    await reload(); // the list grows above it: then show it
    box.scrollIntoView({ block: "nearest" });
  } },
    h("h2", {}, "Make a token"),
    h("div", { class: "row" }, field("Name", name), field("Expires", expires, "a duration from now; empty: never")),
    field("Grants", grants, "one RESOURCE=ROLE a line: the resource stream:NAME, pipeline:NAME, table:NAME, function:NAME, source:NAME (* matches any run of characters) or *; the role one of " + ROLES.join(", ") + ". A token gives only grants it has."),
    grantsErr,
    h("button", { type: "submit" }, "Make the token"), out);
  grantsErr.id = "grants-error";
  grants.setAttribute("aria-describedby", "grants-error");
  return form;
}

// newTokenBox shows a new token's text, once: the node keeps only its hash.
function newTokenBox(made) {
  const text = h("input", { type: "text", readonly: true, class: "code wide token-text", value: made.token, spellcheck: "false", "aria-label": "The new token " + made.name });
  const box = h("div", { class: "notice new-token", role: "status" },
    h("p", {}, h("strong", {}, "Token " + made.name + " (" + made.id + ") made."), " Copy it now: it will not be shown again (the node keeps only its hash)."),
    h("div", { class: "toolbar" }, text, copyButton(() => text.value, "Copy"),
      h("button", { type: "button", class: "small", onclick: () => box.remove() }, "Done")));
  setTimeout(() => text.select(), 0);
  return box;
}
