// dryrun.js: a pipeline's spec run on the last events of its input stream
// (POST /v1/pipelines/{name}/dry-run?last=N) before it is saved: per event,
// whether where filtered it out, its outputs, or its error whole. Nothing
// is written anywhere.
"use strict";

// dryRun asks the API and shows the answer in out; a spec the API refuses
// (422) goes to fieldErrors(errors).
async function dryRun(name, spec, last, out, fieldErrors) {
  out.replaceChildren(h("p", { class: "muted" }, `Running on the last ${last} events…`));
  let r;
  try { r = await api("POST", `/v1/pipelines/${encodeURIComponent(name)}/dry-run?last=${last}`, { body: spec }); }
  catch (e) {
    if (e.status === 422 && e.problem.errors) {
      fieldErrors(e.problem.errors);
      out.replaceChildren(h("p", { class: "muted dry-refused" }, "Dry run refused: the spec is invalid (see the fields above)."));
      return;
    }
    out.replaceChildren(errorBox(e));
    return;
  }
  out.replaceChildren(dryRunView(r, last));
}

// dryRunOutcome is what happened to one event: error, filtered, outputs or none.
function dryRunOutcome(ev) {
  if (ev.error) return "error";
  if (ev.skipped) return "filtered";
  return ev.outputs && ev.outputs.length ? "outputs" : "none";
}

function dryRunView(r, last) {
  const events = r.events || [];
  const count = (o) => events.filter(e => dryRunOutcome(e) === o).length;
  const nOut = events.reduce((n, e) => n + (e.outputs ? e.outputs.length : 0), 0);
  const summary = [`${events.length} event${events.length === 1 ? "" : "s"}`,
    `${count("outputs")} with outputs (${nOut} in all)`, `${count("filtered")} filtered out`, `${count("none")} with no output`, `${count("error")} failed`];
  return h("section", { class: "card dry-run-result" },
    h("h2", {}, "Dry run: the last ", String(last), " events of ", h("a", { href: "/ui/streams/" + encodeURIComponent(r.from) }, r.from)),
    h("p", { class: "dry-summary" }, summary.join(" · "), h("span", { class: "muted" }, " · nothing was written")),
    events.length ? h("ol", { class: "dry-events" }, events.map(dryRunEvent)) : h("p", { class: "muted" }, "The stream has no events yet: produce some first."));
}

function dryRunEvent(ev) {
  const outcome = dryRunOutcome(ev);
  const badge = { error: ["bad", "error"], filtered: ["warn", "filtered out"], outputs: ["ok", `${ev.outputs && ev.outputs.length} output${ev.outputs && ev.outputs.length === 1 ? "" : "s"}`], none: ["", "no output"] }[outcome];
  let body;
  if (outcome === "error") {
    const e = ev.error, stack = Array.isArray(e.stack) ? e.stack : e.stack ? String(e.stack).split("\n") : undefined;
    body = [errorDetail(e.message || e.type || "failed", Object.assign({}, e, { stack })),
      h("details", { class: "dry-error-json" }, h("summary", {}, "the whole error"), jsonView(e))];
  }
  else if (outcome === "filtered") body = h("p", { class: "muted" }, "where is false for it: the function does not see it.");
  else if (outcome === "none") body = h("p", { class: "muted" }, "The function returned nothing for it.");
  else body = h("ol", { class: "dry-outputs" }, ev.outputs.map(o => h("li", {}, jsonView(o))));
  return h("li", { class: "dry-event", "data-seq": ev.seq, "data-outcome": outcome },
    h("div", { class: "head" }, h("strong", {}, "#" + ev.seq), ev.id ? h("code", { class: "muted" }, ev.id) : null, h("span", { class: "badge " + badge[0] }, badge[1])),
    body,
    h("details", { class: "dry-input" }, h("summary", {}, "input"), jsonView(ev.input)));
}
