// functions.js: the named functions (the operator's code run as a process
// or called over HTTP, and built-in kinds with a preset config) with their
// settings, state and instances; the built-in kinds with their config
// docs; and a place to try any of them on a pasted event or on the newest
// event of a stream, with every error shown whole (type, stack, stderr).
"use strict";

sluice.pages.functions = async function (main) {
  let fns;
  try { fns = (await api("GET", "/v1/functions")).functions; } catch (e) { main.append(errorBox(e)); return; }
  const sel = params.get("fn") || "";
  const named = fns.filter(f => !f.builtin), kinds = fns.filter(f => f.builtin);
  main.append(h("h1", {}, "Functions"), h("h2", {}, "Named functions"));
  if (!named.length) {
    main.append(h("p", { class: "muted" }, "None yet. Declare them under functions: in sluice.yaml: a process (any language, over the Lambda Runtime API), an http endpoint, or a built-in kind with a preset config."));
  }
  const cards = named.map(f => {
    const card = h("section", { class: "card", id: "fn-" + f.name });
    const status = h("div", { class: "fn-status" });
    addChildren(card, h("h2", {}, f.name, h("span", { class: "badge" }, f.kind), f.state ? fnStateBadge(f.state) : null),
      f.doc ? h("p", {}, f.doc) : null,
      kv([["max batch", f.max_batch ? fmtNum(f.max_batch) : ""], ["payload", f.payload]]),
      f.settings ? h("details", { open: true }, h("summary", {}, "Settings"), jsonView(f.settings)) : null,
      f.config ? h("details", {}, h("summary", {}, "Config (handed to the function with every batch)"), jsonView(f.config)) : null,
      status, tryIt(f, false, sel === f.name), definitionHistory("functions", f.name));
    fnStatus(status, f);
    main.append(card);
    return { f, card, status };
  });
  main.append(h("h2", {}, "Built-in kinds"));
  for (const f of kinds) {
    main.append(h("section", { class: "card", id: "fn-" + f.name },
      h("h2", {}, f.name), h("p", {}, f.doc),
      f.fields && f.fields.length ? h("table", { class: "grid fields" }, h("thead", {}, h("tr", {}, ["Field", "Type", "Default", "Doc"].map(c => h("th", { scope: "col" }, c)))),
        h("tbody", {}, f.fields.map(x => h("tr", {}, h("td", {}, h("code", {}, x.name), x.required ? h("span", { class: "badge" }, "required") : null,
          x.operator ? h("span", { class: "badge", title: "set in the node's config only, never by an invoke request" }, "operator") : null), h("td", {}, x.type),
          h("td", {}, x.default === undefined || x.default === null ? "" : h("code", {}, JSON.stringify(x.default))), h("td", {}, x.doc))))) : h("p", { class: "muted" }, "No config."),
      tryIt(f, true, sel === f.name)));
  }
  if (cards.some(c => c.f.status)) {
    every(2000, async () => {
      let now;
      try { now = (await api("GET", "/v1/functions")).functions; } catch (e) { return; }
      for (const c of cards) {
        const f = now.find(x => x.name === c.f.name);
        if (f) fnStatus(c.status, f);
      }
    });
  }
};

function fnStateBadge(state) {
  const cls = ["ready", "ok"].includes(state) ? "ok" : state === "failing" ? "bad" : "warn";
  return h("span", { class: "badge fn-state " + cls }, state);
}

// fnStatus shows a named function's live state: a process's instances,
// an http function's endpoint.
function fnStatus(box, f) {
  const s = f.status;
  if (!s) { box.replaceChildren(); return; }
  const badge = box.closest(".card") && box.closest(".card").querySelector(".fn-state");
  if (badge && f.state) badge.replaceWith(fnStateBadge(f.state));
  const parts = [kv([["invocations", fmtNum(s.invocations)], ["failed as a whole", fmtNum(s.failures)], ["endpoint", s.url],
    ["last status", s.last_status], ["last error", s.last_error], ["at", fmtTime(s.last_error_time)]])];
  if (s.instances) {
    parts.push(h("table", { class: "grid instances" },
      h("thead", {}, h("tr", {}, ["Instance", "State", "PID", "Restarts", "Invocations", "Last exit", "Last error"].map(c => h("th", { scope: "col" }, c)))),
      h("tbody", {}, s.instances.map(i => h("tr", { "data-instance": i.index }, h("td", {}, i.index), h("td", {}, fnStateBadge(i.state)), h("td", {}, i.pid || ""),
        h("td", {}, fmtNum(i.restarts)), h("td", {}, fmtNum(i.invocations)), h("td", {}, i.last_exit || ""),
        h("td", { class: "last-error" }, i.last_error ? h("span", { title: fmtTime(i.last_error_time) }, i.last_error) : ""))))));
  }
  box.replaceChildren(...parts);
}

// tryIt invokes a function on events; built-in kinds take a config, named
// functions have theirs.
function tryIt(f, withConfig, open) {
  // Operator fields (network targets such as api_base) are the node's
  // config's: the API refuses an invoke that sets them, so they are left
  // out of the config to edit.
  const defaults = {};
  (f.fields || []).forEach(x => { if (!x.operator && x.default !== undefined && x.default !== null) defaults[x.name] = x.default; });
  const operator = (f.fields || []).filter(x => x.operator).map(x => x.name);
  const cfg = withConfig ? h("textarea", { rows: 5, class: "code", spellcheck: "false" }, JSON.stringify(defaults, null, 2)) : null;
  const evs = h("textarea", { rows: 6, class: "code", spellcheck: "false", placeholder: "one event, or a JSON array of events" });
  const from = h("input", { placeholder: "stream name", spellcheck: "false" });
  const out = h("div", { class: "invoke-result" });
  return h("details", { class: "try", open }, h("summary", {}, "Try it"),
    h("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      out.replaceChildren(h("p", { class: "muted" }, "Running…"));
      let config, events;
      if (cfg) {
        try { config = cfg.value.trim() ? JSON.parse(cfg.value) : {}; } catch (e) { out.replaceChildren(errorBox("config is not JSON: " + e.message)); return; }
      }
      try { events = JSON.parse(evs.value); } catch (e) { out.replaceChildren(errorBox("events: not JSON: " + e.message)); return; }
      if (!Array.isArray(events)) events = [events];
      try {
        const r = await api("POST", `/v1/functions/${encodeURIComponent(f.name)}/invoke`, { body: cfg ? { config, events } : { events } });
        out.replaceChildren(...r.results.map(invokeResultCard));
      } catch (e) { out.replaceChildren(errorBox(e), unavailableDetail(e)); }
    } },
      cfg ? field("Config (JSON)", cfg) : h("p", { class: "muted" }, "A named function has its config; the events are all it takes."),
      cfg && operator.length ? h("p", { class: "muted operator-note" }, "Left out: ", operator.map((n, i) => [i ? ", " : "", h("code", {}, n)]).flat(),
        ". They are network targets, taken from the node's config (a pipeline's function config, else the defaults); an invoke request cannot set them.") : null,
      h("div", { class: "toolbar" }, field("Take the newest event of a stream", from),
        h("button", { type: "button", onclick: async () => {
          try {
            const r = await api("GET", `/v1/streams/${encodeURIComponent(from.value.trim())}/events?order=desc&limit=1`, { text: true });
            const e = ndjson(r.text)[0];
            evs.value = e ? JSON.stringify(e, null, 2) : "";
            if (!e) toast("That stream is empty", true);
          } catch (e) { toast(e.message, true); }
        } }, "Take")),
      field("Events (JSON)", evs),
      h("button", { type: "submit" }, "Invoke"), out));
}

// invokeResultCard is one event's result, its error whole.
function invokeResultCard(res) {
  const head = h("strong", {}, `event ${res.index}`);
  if (res.error) return h("div", { class: "card" }, head, errorDetail(res.error, res.detail));
  if (res.filtered) return h("div", { class: "card" }, head, h("p", { class: "muted" }, "filtered out"));
  return h("div", { class: "card" }, head, res.outputs.length ? res.outputs.map(o => jsonView(o)) : h("p", { class: "muted" }, "no output"));
}

// errorDetail shows what a dead letter would carry: the message, the type,
// the stack, the end of the process's stderr, its exit, the attempts.
function errorDetail(message, d) {
  d = d || {};
  return h("div", { class: "error-box fn-error" }, h("div", { class: "message" }, message),
    kv([["type", d.type], ["exit", d.exit], ["attempts", d.attempts], ["HTTP status", d.http_status]]),
    d.stack && d.stack.length ? h("details", {}, h("summary", {}, `stack (${d.stack.length})`), h("pre", { class: "stack" }, d.stack.join("\n"))) : null,
    d.stderr ? h("details", { open: true }, h("summary", {}, "stderr (its end)"), h("pre", { class: "stderr" }, d.stderr)) : null,
    d.http_body ? h("details", {}, h("summary", {}, "HTTP body (its start)"), h("pre", {}, d.http_body)) : null);
}

// unavailableDetail is the error of a 503 (a function that cannot start:
// why, its stderr, its exit).
function unavailableDetail(e) {
  const d = e && e.problem && e.problem.error;
  return d ? errorDetail("", d) : null;
}
