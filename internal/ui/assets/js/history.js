// history.js: a definition's versions (GET /v1/{kind}/{name}/history):
// each with what it did, when, who, the fields it changed and a line diff
// of its spec against the version before.
"use strict";

// definitionHistory is a folded section that loads the history of a
// definition when opened (and again when reopened).
function definitionHistory(kind, name) {
  const d = h("details", { class: "def-history", "data-kind": kind, "data-name": name });
  const body = h("div");
  d.append(h("summary", {}, "History"), body);
  const load = async () => {
    if (!d.open) return;
    body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let versions;
    try { versions = (await api("GET", `/v1/${kind}/${encodeURIComponent(name)}/history`)).versions; }
    catch (e) { body.replaceChildren(errorBox(e)); return; }
    body.replaceChildren(versionList(versions));
  };
  d.addEventListener("toggle", load);
  d.addEventListener("reload", load);
  return d;
}

// historySeen reloads an open history when the definition's version is
// not the one it last saw (a page that refreshes its cards calls it).
function historySeen(d, version) {
  if (!d || version == null || d.dataset.version === String(version)) return;
  d.dataset.version = version;
  d.dispatchEvent(new Event("reload"));
}

// versionList shows versions newest first, each against the one before.
function versionList(versions) {
  if (!versions.length) return h("p", { class: "muted empty" }, "No versions recorded (defined before the catalog kept a history).");
  const items = versions.map((v, i) => {
    const prev = i > 0 ? versions[i - 1] : null;
    const fields = v.fields || [];
    let change;
    if (v.op === "create" || !prev) change = h("details", {}, h("summary", {}, "spec"), h("pre", { class: "raw" }, prettySpec(v.spec)));
    else if (v.op === "delete") change = h("p", { class: "muted" }, "deleted; its spec was:", h("pre", { class: "raw" }, prettySpec(v.spec)));
    else change = diffView(prettySpec(prev.spec), prettySpec(v.spec), 3);
    return h("li", { class: "def-version", "data-version": v.version, "data-op": v.op },
      h("div", { class: "head" }, h("strong", {}, "v" + v.version), h("span", { class: "badge " + (v.op === "delete" ? "bad" : v.op === "create" ? "ok" : "") }, v.op),
        h("span", {}, fmtTime(v.at)), v.by ? h("span", { class: "muted" }, "by " + v.by) : null),
      fields.length ? h("div", { class: "changed-fields" }, "changed: ", fields.map((f, j) => [j ? ", " : "", h("code", {}, f)])) : null,
      change);
  });
  return h("ul", { class: "def-versions" }, items.reverse());
}

// prettySpec is a spec as indented JSON with its keys sorted, so the same
// spec always reads the same and a diff shows only what changed.
function prettySpec(spec) {
  const sorted = (v) => Array.isArray(v) ? v.map(sorted)
    : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map(k => [k, sorted(v[k])])) : v;
  return JSON.stringify(sorted(spec === undefined ? null : spec), null, 2);
}
