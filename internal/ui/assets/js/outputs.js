// outputs.js: a pipeline's outputs in its form: a list of rows, each a
// stream or a table (chosen from those the node has) or an sql or files
// output as raw JSON. Each row's wrapper has data-path to[i], its value
// to[i].KIND, so the API's errors show next to it.
"use strict";

const outputKinds = {
  stream: "stream",
  table: "table",
  sql: "sql (JSON)",
  files: "files (JSON)",
};

const outputExamples = {
  sql: '{"url": "sqlite:out.db", "table": "orders", "mode": "append"}',
  files: '{"url": "file:out", "format": "ndjson"}',
};

// outputsEditor edits outputs (the spec's to); read() gives {to, errors}.
function outputsEditor(outputs, lists) {
  const list = h("ol", { class: "outputs" });
  const el = h("div", { class: "outputs-editor", "data-path": "to" }, list);
  const rows = [];
  const none = h("p", { class: "muted small" }, "None yet: a pipeline without outputs runs its function and writes nothing.");
  const renumber = () => {
    rows.forEach((r, i) => {
      r.li.dataset.path = "to[" + i + "]";
      r.setPath(i);
    });
    none.hidden = rows.length > 0;
  };
  const add = (o) => {
    const r = outputRow(o || { stream: "" }, lists, () => { rows.splice(rows.indexOf(r), 1); r.li.remove(); renumber(); });
    rows.push(r);
    list.append(r.li);
    renumber();
    return r;
  };
  outputs.forEach(add);
  el.append(h("button", { type: "button", class: "add-output", onclick: () => add().focus() }, "Add an output"), none);
  return {
    el,
    read: () => {
      const to = [], errors = [];
      rows.forEach((r, i) => {
        try { to.push(r.read()); } catch (e) { errors.push({ path: `to[${i}].${r.kind()}`, message: e.message }); }
      });
      return { to, errors };
    },
  };
}

// outputRow is one output: its kind and its value.
function outputRow(o, lists, remove) {
  const kind0 = Object.keys(outputKinds).find(k => o[k] !== undefined) || "stream";
  const known = Object.keys(o).every(k => outputKinds[k]);
  const kind = h("select", { class: "output-kind", "aria-label": "Output kind" }, Object.entries(outputKinds).map(([k, l]) => h("option", { value: k, selected: k === kind0 }, l)));
  const slot = h("div", { class: "output-value" });
  const li = h("li", { class: "output" });
  let value, index = 0;
  const show = (v) => {
    const k = kind.value;
    if (k === "stream" || k === "table") {
      const names = k === "stream" ? lists.streams : lists.tables;
      const cur = typeof v === "string" ? v : "";
      value = h("select", { class: "output-name", "aria-label": `Output ${k}` }, h("option", { value: "" }, `(choose a ${k})`),
        withValue(names, cur).map(n => h("option", { value: n, selected: n === cur }, n)));
    } else {
      value = h("textarea", { rows: 3, class: "code output-json", spellcheck: "false", "aria-label": `Output ${k} (JSON)`, placeholder: outputExamples[k] },
        v && typeof v === "object" ? JSON.stringify(v, null, 2) : "");
    }
    slot.replaceChildren(value);
    slot.dataset.path = `to[${index}].${k}`;
  };
  kind.addEventListener("change", () => show(undefined));
  show(o[kind0]);
  addChildren(li, h("div", { class: "toolbar tight" }, kind, slot, h("button", { type: "button", class: "small remove-output", "aria-label": "Remove this output", onclick: remove }, "Remove")),
    known ? null : h("p", { class: "muted small" }, "This output has fields the form does not show; saving keeps only " + kind0 + "."));
  return {
    li,
    kind: () => kind.value,
    focus: () => kind.focus(),
    setPath: (i) => { index = i; slot.dataset.path = `to[${i}].${kind.value}`; },
    read: () => {
      const k = kind.value;
      if (k === "stream" || k === "table") {
        if (!value.value) throw new Error(`choose a ${k}`);
        return { [k]: value.value };
      }
      let v;
      try { v = JSON.parse(value.value); } catch (e) { throw new Error("not JSON: " + e.message); }
      if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("want a JSON object, e.g. " + outputExamples[k]);
      return { [k]: v };
    },
  };
}
