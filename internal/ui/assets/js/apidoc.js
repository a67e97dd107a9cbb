// apidoc.js: the OpenAPI document (/openapi.json) as a readable reference,
// each operation with a form that sends a real request.
"use strict";

sluice.pages.api = async function (main) {
  let doc;
  try { doc = await api("GET", "/openapi.json"); } catch (e) { main.append(errorBox(e)); return; }
  main.append(h("div", { class: "head" }, h("h1", {}, doc.info.title + " " + doc.info.version), h("a", { href: "/openapi.json" }, "openapi.json")),
    doc.info.description ? h("p", {}, doc.info.description) : null);
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push({ path, method: method.toUpperCase(), op });
    }
  }
  const toc = h("nav", { class: "toc", "aria-label": "API sections" }, Object.keys(byTag).map(t => h("a", { href: "#tag-" + t }, t)));
  main.append(toc);
  for (const [tag, ops] of Object.entries(byTag)) {
    main.append(h("h2", { id: "tag-" + tag }, tag), ...ops.map(o => operation(doc, o)));
  }
};

function schemaName(ref) { return ref ? ref.split("/").pop() : ""; }

function operation(doc, { path, method, op }) {
  const ps = op.parameters || [];
  const inputs = {};
  const rows = ps.map(p => {
    const inp = h("input", { name: p.name, placeholder: p.schema && p.schema.type || "", spellcheck: "false" });
    inputs[p.in + ":" + p.name] = inp;
    return h("tr", {}, h("td", {}, h("code", {}, p.name), p.required ? h("span", { class: "badge" }, "required") : null), h("td", {}, p.in), h("td", {}, p.description || ""), h("td", {}, inp));
  });
  let bodyIn = null;
  const rb = op.requestBody;
  if (rb) {
    const mt = Object.keys(rb.content)[0];
    const ex = rb.content[mt].example;
    bodyIn = h("textarea", { rows: 5, class: "code", spellcheck: "false" }, ex === undefined ? "" : (typeof ex === "string" ? ex : JSON.stringify(ex, null, 2)));
    bodyIn.dataset.type = mt;
  }
  const out = h("div", { class: "try-result", "aria-live": "polite" });
  const send = async (ev) => {
    ev.preventDefault();
    let url = path;
    const q = new URLSearchParams(), headers = {};
    for (const p of ps) {
      const v = inputs[p.in + ":" + p.name].value;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
      else if (v === "") continue;
      else if (p.in === "query") q.set(p.name, v);
      else if (p.in === "header") headers[p.name] = v;
    }
    if (q.toString()) url += "?" + q;
    if (method !== "GET" && method !== "HEAD") Object.assign(headers, csrfHeader()); // the session's changes carry it, as api() does
    const init = { method, headers };
    if (bodyIn) { init.body = bodyIn.value; headers["Content-Type"] = bodyIn.dataset.type; }
    out.replaceChildren(h("p", { class: "muted" }, method + " " + url + " …"));
    try {
      const resp = await fetch(url, init);
      let text = await resp.text();
      if (text.length > 100000) text = text.slice(0, 100000) + "\n… (cut at 100 kB)";
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not one JSON document */ }
      const hdrs = ["content-type", "sluice-next", "location"].filter(k => resp.headers.get(k)).map(k => k + ": " + resp.headers.get(k)).join("\n");
      putChildren(out, h("p", {}, h("strong", { class: resp.ok ? "ok" : "bad" }, resp.status + " " + resp.statusText), " ", h("code", {}, method + " " + url)),
        hdrs ? h("pre", { class: "raw" }, hdrs) : null, h("pre", { class: "raw" }, text),
        resp.status === 401 && sluice.session.enabled ? h("p", {}, "This browser's session has ended: ", h("a", { href: "/ui/signin?next=/ui/api" }, "sign in"), ".") : null);
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  return h("details", { class: "op", id: op.operationId },
    h("summary", {}, h("span", { class: "method m-" + method.toLowerCase() }, method), " ", h("code", {}, path), " ", h("span", { class: "muted" }, op.summary || "")),
    rows.length ? h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Parameter", "In", "Description", "Value"].map(c => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)) : null,
    rb ? h("div", {}, h("h4", {}, "Body (" + Object.keys(rb.content).join(", ") + ")"), h("p", { class: "muted" }, rb.description || "", " ", schemaName(rb.content[Object.keys(rb.content)[0]].schema && rb.content[Object.keys(rb.content)[0]].schema.$ref))) : null,
    h("h4", {}, "Responses"),
    h("ul", {}, Object.entries(op.responses || {}).map(([code, r]) => h("li", {}, h("strong", {}, code), " ", r.description,
      r.content ? h("span", { class: "muted" }, " · " + Object.keys(r.content).join(", ") + " " + Object.values(r.content).map(c => schemaName(c.schema && c.schema.$ref)).filter(Boolean).join(", ")) : null))),
    h("form", { class: "try", onsubmit: send }, bodyIn ? field("Request body", bodyIn) : null, h("button", { type: "submit" }, "Send " + method)), out);
}
