// configform.js: a function's config as a form generated from its kind's
// fields (name, type, default, required, doc), with raw JSON as the
// fallback: for a kind without fields, or a config the fields do not cover.
"use strict";

// configEditor edits the config of function fn (an entry of GET
// /v1/functions, or undefined for a name the node does not know). It
// returns {el, read}: read() gives {config, errors: [{path, message}]}.
// Every control's wrapper carries data-path (function.config.NAME) so the
// API's errors show next to it.
function configEditor(fn, initial) {
  initial = initial || {};
  const el = h("div", { class: "config-editor", "data-path": "function.config" });
  if (fn && !fn.builtin) {
    addChildren(el, h("p", { class: "muted" }, `${fn.name} is a named function (${fn.kind}): its config is set where it is defined, a pipeline gives none.`),
      fn.config ? h("details", {}, h("summary", {}, "its preset config"), jsonView(fn.config)) : null);
    return { el, read: () => ({ config: undefined, errors: [] }) };
  }
  const fields = (fn && fn.fields) || [];
  if (fn && !fields.length) {
    el.append(h("p", { class: "muted" }, `${fn.name} takes no config.`));
    return { el, read: () => ({ config: undefined, errors: [] }) };
  }
  const controls = new Map(fields.map(f => [f.name, configControl(f)]));
  const rawText = h("textarea", { rows: 8, class: "code raw-config", spellcheck: "false", "aria-label": "Config as JSON" });
  const rawBox = field("Config (JSON)", rawText, "an object; empty is none");
  rawBox.dataset.path = "function.config";
  const formBox = h("div", { class: "config-fields" }, fields.map(f => controls.get(f.name).box));
  const known = (cfg) => Object.keys(cfg).every(k => controls.has(k));
  let raw = !fn || !known(initial);
  const fill = (cfg) => controls.forEach((c, name) => c.set(cfg[name]));
  const readForm = () => {
    const config = {}, errors = [];
    controls.forEach((c, name) => {
      try { const v = c.get(); if (v !== undefined) config[name] = v; }
      catch (e) { errors.push({ path: "function.config." + name, message: e.message }); }
    });
    return { config, errors };
  };
  const readRaw = () => {
    if (!rawText.value.trim()) return { config: {}, errors: [] };
    try {
      const config = JSON.parse(rawText.value);
      if (!config || typeof config !== "object" || Array.isArray(config)) throw new Error("want a JSON object");
      return { config, errors: [] };
    } catch (e) { return { config: undefined, errors: [{ path: "function.config", message: "not a JSON object: " + e.message }] }; }
  };
  const toggle = h("button", { type: "button", class: "small config-mode" });
  const show = () => {
    formBox.hidden = raw;
    rawBox.hidden = !raw;
    toggle.textContent = raw ? "Edit as a form" : "Edit as JSON";
    toggle.hidden = !fn;
  };
  toggle.addEventListener("click", () => {
    if (raw) {
      const r = readRaw();
      if (r.errors.length) { toast(r.errors[0].message, true); return; }
      if (!known(r.config)) { toast("The config has fields the form does not know: keep editing it as JSON", true); return; }
      fill(r.config);
    } else {
      const r = readForm();
      rawText.value = JSON.stringify(r.config, null, 2);
    }
    raw = !raw;
    show();
  });
  if (raw) rawText.value = Object.keys(initial).length ? JSON.stringify(initial, null, 2) : "";
  else fill(initial);
  el.append(h("div", { class: "toolbar" }, h("strong", {}, "Config"), toggle), formBox, rawBox);
  show();
  return {
    el,
    read: () => {
      const r = raw ? readRaw() : readForm();
      if (r.config && !Object.keys(r.config).length) r.config = undefined;
      return r;
    },
  };
}

// configControl is one field's control: get() is its value (undefined when
// empty: the default applies), set(v) shows v.
function configControl(f) {
  const dflt = f.default === undefined || f.default === null || f.default === "" ? "" : f.default;
  const list = f.type.startsWith("[]"), scalar = ["string", "duration", "int", "float", "bool"].includes(f.type);
  let control;
  if (f.type === "bool") control = h("select", {}, h("option", { value: "" }, dflt === "" ? "(default)" : `(default: ${dflt})`), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  else if (scalar) control = h("input", { type: f.type === "int" || f.type === "float" ? "number" : "text", step: f.type === "float" ? "any" : f.type === "int" ? "1" : null,
    placeholder: dflt === "" ? (f.type === "duration" ? "e.g. 30s" : "") : String(dflt), spellcheck: "false", autocomplete: "off" });
  else control = h("textarea", { rows: list ? 3 : 4, class: "code", spellcheck: "false",
    placeholder: list ? (Array.isArray(dflt) ? dflt.join("\n") : "one per line") : (dflt === "" ? "JSON" : JSON.stringify(dflt)) });
  control.name = "config." + f.name;
  if (f.required) control.setAttribute("aria-required", "true");
  const label = h("span", {}, h("code", {}, f.name), " ", h("span", { class: "muted small" }, f.type), f.required ? h("span", { class: "badge" }, "required") : null,
    f.operator ? h("span", { class: "badge", title: "a network target: the API's invoke never sets it, a pipeline's config may" }, "operator") : null);
  const box = h("div", { class: "field", "data-path": "function.config." + f.name });
  control.id = "cfg-" + f.name.replace(/[^a-z0-9_]/gi, "_");
  box.append(h("label", { for: control.id }, label), control, f.doc ? h("small", { class: "muted" }, f.doc) : null);
  const get = () => {
    const s = control.value.trim();
    if (s === "") return undefined;
    if (f.type === "int") { const n = Number(s); if (!Number.isInteger(n)) throw new Error("want a whole number"); return n; }
    if (f.type === "float") { const n = Number(s); if (!Number.isFinite(n)) throw new Error("want a number"); return n; }
    if (f.type === "bool") return s === "true";
    if (scalar) return s;
    if (list) return s.split("\n").map(x => x.trim()).filter(Boolean);
    try { return JSON.parse(s); } catch (e) { throw new Error("not JSON: " + e.message); }
  };
  const set = (v) => {
    if (v === undefined || v === null) control.value = "";
    else if (list && Array.isArray(v)) control.value = v.join("\n");
    else if (typeof v === "object") control.value = JSON.stringify(v, null, 2);
    else control.value = String(v);
  };
  return { box, get, set };
}
