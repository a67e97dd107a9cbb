// json.js: a JSON viewer (collapsible tree, raw view, copy) and a line diff.
"use strict";

// jsonTree renders a value as a tree; objects and arrays fold.
function jsonTree(v, depth = 0) {
  if (v === null) return h("span", { class: "j-null" }, "null");
  if (Array.isArray(v) || typeof v === "object") {
    const isArr = Array.isArray(v);
    const entries = isArr ? v.map((x, i) => [i, x]) : Object.entries(v);
    if (entries.length === 0) return h("span", {}, isArr ? "[]" : "{}");
    const d = h("details", { class: "j-node", open: depth < 2 });
    d.append(h("summary", {}, isArr ? `[${entries.length}]` : `{${entries.length}}`));
    const list = h("div", { class: "j-children" });
    for (const [k, x] of entries) {
      list.append(h("div", { class: "j-row" }, isArr ? h("span", { class: "j-idx" }, k + ": ") : h("span", { class: "j-key" }, JSON.stringify(k) + ": "), jsonTree(x, depth + 1)));
    }
    d.append(list);
    return d;
  }
  if (typeof v === "string") return h("span", { class: "j-str" }, JSON.stringify(v));
  if (typeof v === "number") return h("span", { class: "j-num" }, String(v));
  return h("span", { class: "j-bool" }, String(v));
}

// jsonView is a tree with a raw/tree toggle and a copy button.
function jsonView(v) {
  const box = h("div", { class: "json" });
  const body = h("div", {}, jsonTree(v));
  let raw = false;
  const toggle = h("button", { type: "button", class: "small", onclick: () => {
    raw = !raw;
    body.replaceChildren(raw ? h("pre", { class: "raw" }, JSON.stringify(v)) : jsonTree(v));
    toggle.textContent = raw ? "Tree" : "Raw";
  } }, "Raw");
  box.append(h("div", { class: "json-tools" }, toggle, copyButton(() => JSON.stringify(v, null, 2), "Copy JSON")), body);
  return box;
}

// preview is a one-line summary of an event.
function preview(v, n = 140) {
  const s = JSON.stringify(v);
  return s.length > n ? s.slice(0, n) + "…" : s;
}

// fieldsPreview sums an event up by the stream's preview fields (JSON
// pointers, as GET /v1/streams/{name} answers them): "title=Foo · wiki=enwiki",
// each value clipped; the first bytes of the JSON when none is present.
function fieldsPreview(v, pointers, clip = 60) {
  const parts = [];
  for (const p of pointers || []) {
    const x = pointerGet(v, p);
    if (x === undefined) continue;
    const s = typeof x === "string" ? x : JSON.stringify(x);
    parts.push(p.slice(1).replace(/~1/g, "/").replace(/~0/g, "~") + "=" + (s.length > clip ? s.slice(0, clip) + "…" : s));
  }
  return parts.length ? parts.join(" · ") : preview(v);
}

// pointerGet is the value at a JSON pointer (RFC 6901), or undefined.
function pointerGet(v, p) {
  if (p === "") return v;
  for (const tok of p.slice(1).split("/")) {
    if (v === null || typeof v !== "object") return undefined;
    const k = tok.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!Object.prototype.hasOwnProperty.call(v, k)) return undefined;
    v = v[k];
  }
  return v;
}

// lineDiff compares two texts line by line (LCS); returns [{op: " "|"+"|"-", line}].
// The common head and tail are taken out first, so a small change in a
// long text (a schema) costs the size of the change, not of the text.
function lineDiff(a, b) {
  const xa = a.split("\n"), ya = b.split("\n");
  let head = 0, tail = 0;
  while (head < xa.length && head < ya.length && xa[head] === ya[head]) head++;
  while (tail < xa.length - head && tail < ya.length - head && xa[xa.length - 1 - tail] === ya[ya.length - 1 - tail]) tail++;
  const same = (lines) => lines.map(line => ({ op: " ", line }));
  return [...same(xa.slice(0, head)), ...lcsDiff(xa.slice(head, xa.length - tail), ya.slice(head, ya.length - tail)), ...same(xa.slice(xa.length - tail))];
}

function lcsDiff(x, y) {
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: " ", line: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: "-", line: x[i++] });
    else out.push({ op: "+", line: y[j++] });
  }
  while (i < n) out.push({ op: "-", line: x[i++] });
  while (j < m) out.push({ op: "+", line: y[j++] });
  return out;
}

// diffView shows a line diff; with context, only that many unchanged lines
// around each change, the rest counted.
function diffView(a, b, context) {
  const rows = lineDiff(a, b);
  if (!rows.some(r => r.op !== " ")) return h("p", { class: "muted" }, "No differences.");
  const near = (i) => context === undefined || rows.slice(Math.max(0, i - context), i + context + 1).some(r => r.op !== " ");
  const out = [];
  let hidden = 0;
  rows.forEach((r, i) => {
    if (r.op === " " && !near(i)) { hidden++; return; }
    if (hidden) { out.push(h("span", { class: "skipped" }, `  … ${hidden} unchanged line${hidden > 1 ? "s" : ""}\n`)); hidden = 0; }
    out.push(h("span", { class: r.op === "+" ? "add" : r.op === "-" ? "del" : "" }, r.op + " " + r.line + "\n"));
  });
  if (hidden) out.push(h("span", { class: "skipped" }, `  … ${hidden} unchanged line${hidden > 1 ? "s" : ""}\n`));
  return h("pre", { class: "diff" }, out);
}

// valueChanges says what changed from a to b: for arrays, the items added
// and removed; for objects, per field; otherwise old -> new.
function valueChanges(a, b) {
  const out = [];
  const walk = (x, y, path) => {
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    if (Array.isArray(x) && Array.isArray(y)) {
      const xs = new Set(x.map(v => JSON.stringify(v))), ys = new Set(y.map(v => JSON.stringify(v)));
      const added = [...ys].filter(v => !xs.has(v)), removed = [...xs].filter(v => !ys.has(v));
      out.push({ path, added: added.map(s => JSON.parse(s)), removed: removed.map(s => JSON.parse(s)), reordered: !added.length && !removed.length });
      return;
    }
    if (x && y && typeof x === "object" && typeof y === "object" && !Array.isArray(x) && !Array.isArray(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], path + "/" + k);
      return;
    }
    out.push({ path, from: x, to: y });
  };
  walk(a, b, "");
  return out;
}
