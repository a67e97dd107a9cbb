// pipeform.js: create or edit a pipeline in a form (/ui/pipelines/new,
// /ui/pipelines/{name}/edit): its input stream, start, where, function and
// config, outputs; a dry run on the stream's last events (dryrun.js); Save
// with the API's refusals shown next to the field they name.
"use strict";

sluice.pages.pipelineForm = async function (main) {
  const editing = seg(3) !== "new" ? seg(3) : "";
  main.append(h("div", { class: "head" }, h("h1", {}, editing ? "Edit pipeline " + editing : "New pipeline"), h("a", { href: "/ui/pipelines", class: "muted" }, "all pipelines")));
  let streams, tables, fns, current = null;
  try {
    [streams, tables, fns, current] = await Promise.all([
      api("GET", "/v1/streams").then(r => r.streams.map(s => s.name).sort()),
      api("GET", "/v1/tables").then(r => r.tables || []).catch(() => []),
      api("GET", "/v1/functions").then(r => r.functions),
      editing ? api("GET", "/v1/pipelines/" + encodeURIComponent(editing)) : null]);
  } catch (e) { main.append(errorBox(e)); return; }
  if (editing && !current.spec) { main.append(errorBox("This node keeps no definition of " + editing + ": it cannot be edited here.")); return; }
  const spec = current ? current.spec : { start: "earliest", function: { name: "identity" }, to: [] };
  if (current) main.querySelector("h1").append(h("span", { class: "badge", title: "the version being edited" }, "v" + current.version));
  main.append(pipelineForm(editing, spec, { streams, tables, fns }));
};

// pipelineForm builds the form for spec (a pipeline's spec as the API gives it).
function pipelineForm(editing, spec, lists) {
  const form = h("form", { class: "pipeline-form", novalidate: true });
  const general = h("div", { class: "form-errors", "aria-live": "polite" });
  const labelled = (path, label, control, hint) => { const f = field(label, control, hint); f.dataset.path = path; return f; };

  const name = h("input", { name: "name", value: editing, disabled: !!editing, required: true, placeholder: "big-orders", spellcheck: "false", autocomplete: "off" });
  const from = h("select", { name: "from" }, h("option", { value: "" }, "(choose a stream)"),
    withValue(lists.streams, spec.from).map(s => h("option", { value: s, selected: s === spec.from }, s)));
  const startKinds = { "": "latest (the default)", earliest: "earliest", latest: "latest", at: "a sequence or a time…" };
  const startSel = h("select", { name: "start-kind", "aria-label": "Start" }, Object.entries(startKinds).map(([v, l]) => h("option", { value: v }, l)));
  const startAt = h("input", { name: "start", placeholder: "1234 or 2026-11-27T10:00:00Z", spellcheck: "false", "aria-label": "Start at" });
  const st = spec.start || "";
  startSel.value = ["", "earliest", "latest"].includes(st) ? st : "at";
  startAt.value = startSel.value === "at" ? st : "";
  const showStart = () => { startAt.hidden = startSel.value !== "at"; };
  startSel.addEventListener("change", showStart);
  showStart();
  const reset = h("input", { name: "reset", placeholder: "earliest | latest | 1234 | 2026-11-27T10:00:00Z", spellcheck: "false" });
  const resetBox = labelled("reset", "Reset position in the new stream", reset, "the input stream changes: where to start reading it (required)");
  const showReset = () => { resetBox.hidden = !editing || from.value === spec.from; };
  from.addEventListener("change", showReset);
  showReset();
  const where = h("textarea", { name: "where", rows: 2, class: "code", spellcheck: "false", placeholder: 'event.type == "edit" (empty: every event)' }, spec.where || "");

  const fnName = (spec.function && spec.function.name) || "";
  const fnSel = h("select", { name: "function" },
    h("optgroup", { label: "Named functions" }, lists.fns.filter(f => !f.builtin).map(f => h("option", { value: f.name }, f.name + " (" + f.kind + ")"))),
    h("optgroup", { label: "Built-in kinds" }, lists.fns.filter(f => f.builtin).map(f => h("option", { value: f.name }, f.name))),
    lists.fns.some(f => f.name === fnName) || !fnName ? null : h("option", { value: fnName }, fnName + " (unknown here)"));
  fnSel.value = fnName || "identity";
  const fnDoc = h("p", { class: "muted small fn-doc" });
  const cfgSlot = h("div");
  let cfg;
  const showFn = (initial) => {
    const f = lists.fns.find(x => x.name === fnSel.value);
    fnDoc.textContent = f ? f.doc : "";
    cfg = configEditor(f, initial);
    cfgSlot.replaceChildren(cfg.el);
  };
  fnSel.addEventListener("change", () => showFn({}));
  showFn((spec.function && spec.function.config) || {});

  const outs = outputsEditor(spec.to || [], lists);
  const mif = h("input", { name: "max_in_flight", type: "number", min: "1", step: "1", value: spec.max_in_flight || "", placeholder: "the default" });

  // readSpec is the form as a spec: the loaded spec's other fields kept,
  // the form's set or removed. Errors found here use the API's paths.
  const readSpec = () => {
    const out = Object.assign({}, spec), errors = [];
    const set = (k, v) => { if (v === undefined || v === "") delete out[k]; else out[k] = v; };
    set("from", from.value);
    set("start", startSel.value === "at" ? startAt.value.trim() : startSel.value);
    if (startSel.value === "at" && !startAt.value.trim()) errors.push({ path: "start", message: "give a sequence or a time" });
    set("where", where.value.trim());
    const c = cfg.read();
    errors.push(...c.errors);
    out.function = { name: fnSel.value };
    if (c.config) out.function.config = c.config;
    const o = outs.read();
    errors.push(...o.errors);
    out.to = o.to;
    const n = mif.value.trim();
    if (n && !(Number.isInteger(Number(n)) && Number(n) > 0)) errors.push({ path: "max_in_flight", message: "want a whole number above 0" });
    set("max_in_flight", n ? Number(n) : undefined);
    return { spec: out, errors };
  };
  const nameOf = () => editing || name.value.trim();

  const results = h("div", { class: "dry-run", "aria-live": "polite" });
  const last = h("select", { name: "last", "aria-label": "Events to try" }, [1, 5, 10, 20, 50, 100].map(n => h("option", { value: n, selected: n === 10 }, `last ${n}`)));
  const dry = h("button", { type: "button", class: "dry-run-button" }, "Dry run");
  const save = h("button", { type: "submit" }, editing ? "Save" : "Create");
  const prepare = () => {
    clearFieldErrors(form, general);
    const r = readSpec();
    if (!nameOf()) r.errors.push({ path: "name", message: "required" });
    if (r.errors.length) { showFieldErrors(form, general, r.errors); return null; }
    return r.spec;
  };
  dry.addEventListener("click", async () => {
    const s = prepare();
    if (!s) return;
    dry.disabled = true;
    try { await dryRun(nameOf(), s, Number(last.value), results, (errs) => showFieldErrors(form, general, errs)); }
    finally { dry.disabled = false; }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const s = prepare();
    if (!s) return;
    save.disabled = true;
    try {
      const r = editing
        ? await api("PUT", "/v1/pipelines/" + encodeURIComponent(editing) + (resetBox.hidden || !reset.value.trim() ? "" : "?reset=" + encodeURIComponent(reset.value.trim())), { body: s })
        : await api("POST", "/v1/pipelines", { body: Object.assign({ name: nameOf() }, s) });
      toast(`${r.name}: ` + (r.changed ? `saved as v${r.version}` + (r.fields && r.fields.length ? ` (${r.fields.join(", ")})` : "") : `no change (v${r.version})`));
      go("/ui/pipelines");
    } catch (e) {
      saveRefused(e, form, general, { resetBox, reset, editing });
    } finally { save.disabled = false; }
  });

  addChildren(form,
    h("section", { class: "card" }, h("h2", {}, "Input"),
      editing ? null : labelled("name", "Name", name, "lowercase letters, digits, . _ -; it cannot change later"),
      h("div", { class: "row" }, labelled("from", "Input stream", from), h("div", { class: "field", "data-path": "start" }, h("label", { for: "start-kind" }, "Start"),
        h("div", { class: "toolbar tight" }, Object.assign(startSel, { id: "start-kind" }), startAt), h("small", { class: "muted" }, "where a new pipeline begins reading"))),
      resetBox,
      labelled("where", "Where (CEL over event)", where, "only events for which it is true reach the function")),
    h("section", { class: "card" }, h("h2", {}, "Function"), labelled("function.name", "Function", fnSel), fnDoc, cfgSlot),
    h("section", { class: "card" }, h("h2", {}, "Outputs"), outs.el),
    h("section", { class: "card" }, labelled("max_in_flight", "Max in flight (optional)", mif, "events being processed at once, at most")),
    general,
    h("div", { class: "toolbar form-actions" }, dry, last, save, h("a", { href: "/ui/pipelines" }, "Cancel")),
    results);
  return form;
}

// withValue is list with v added (an input stream or table this node does
// not list, so an edit shows what the spec says).
function withValue(list, v) { return v && !list.includes(v) ? [...list, v] : list; }

// saveRefused shows why the API refused a save: 422 errors by field, 409
// an existing name or an input stream changed without a reset position.
function saveRefused(e, form, general, ctx) {
  const p = (e && e.problem) || {};
  if (e.status === 422 && p.errors) { showFieldErrors(form, general, p.errors); return; }
  if (e.status === 409 && p.title === "Input stream changed") {
    ctx.resetBox.hidden = false;
    showFieldErrors(form, general, [{ path: "reset", message: p.detail || "give a reset position" }]);
    ctx.reset.focus();
    return;
  }
  if (e.status === 409 && !ctx.editing && p.title === "Already exists") { showFieldErrors(form, general, [{ path: "name", message: p.detail || "exists" }]); return; }
  general.replaceChildren(errorBox(e));
}

// showFieldErrors puts each error next to the control whose data-path is
// its path or the nearest one above it (to[1].sql.url: the sql output of
// row 1); the others go to general.
function showFieldErrors(form, general, errors) {
  const rest = [];
  for (const err of errors) {
    let path = String(err.path || "").replace(/^pipelines\.[^.]+\./, "");
    let box = null;
    while (path && !(box = [...form.querySelectorAll("[data-path]")].find(b => b.dataset.path === path && !b.closest("[hidden]")))) path = parentPath(path);
    if (!box) { rest.push(err); continue; }
    const msg = h("div", { class: "field-error", role: "alert", "data-for": err.path }, (err.path !== box.dataset.path ? err.path + ": " : "") + err.message);
    box.classList.add("invalid");
    box.querySelectorAll(":scope > input, :scope > select, :scope > textarea").forEach(c => c.setAttribute("aria-invalid", "true"));
    box.append(msg);
  }
  if (rest.length) general.replaceChildren(h("div", { class: "error-box", role: "alert" }, h("strong", {}, "Refused"),
    h("ul", {}, rest.map(r => h("li", {}, r.path ? [h("code", {}, r.path), ": "] : null, r.message)))));
  const first = form.querySelector(".field-error") || general.firstChild;
  if (first && first.scrollIntoView) first.scrollIntoView({ block: "center" });
}

// parentPath is the path of the field holding path's: to[1].table → to[1] → to.
function parentPath(p) {
  const q = p.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
  return q === p ? "" : q;
}

function clearFieldErrors(form, general) {
  form.querySelectorAll(".field-error").forEach(e => e.remove());
  form.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid"));
  form.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"));
  general.replaceChildren();
}
