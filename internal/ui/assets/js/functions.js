// functions.js: the function kinds with their config docs, and a place to
// try one on a pasted event or on the newest event of a stream.
"use strict";

sluice.pages.functions = async function (main) {
  let fns;
  try { fns = (await api("GET", "/v1/functions")).functions; } catch (e) { main.append(errorBox(e)); return; }
  main.append(h("h1", {}, "Functions"));
  const sel = params.get("fn") || "";
  for (const f of fns) {
    // Operator fields (network targets such as api_base) are the node's
    // config's: the API refuses an invoke that sets them, so they are left
    // out of the config to edit.
    const defaults = {};
    (f.fields || []).forEach(x => { if (!x.operator && x.default !== undefined && x.default !== null) defaults[x.name] = x.default; });
    const operator = (f.fields || []).filter(x => x.operator).map(x => x.name);
    const cfg = h("textarea", { rows: 5, class: "code", spellcheck: "false" }, JSON.stringify(defaults, null, 2));
    const evs = h("textarea", { rows: 6, class: "code", spellcheck: "false", placeholder: "one event, or a JSON array of events" });
    const from = h("input", { placeholder: "stream name", spellcheck: "false" });
    const out = h("div", { class: "invoke-result" });
    const card = h("section", { class: "card", id: "fn-" + f.name },
      h("h2", {}, f.name), h("p", {}, f.doc),
      f.fields && f.fields.length ? h("table", { class: "grid fields" }, h("thead", {}, h("tr", {}, ["Field", "Type", "Default", "Doc"].map(c => h("th", { scope: "col" }, c)))),
        h("tbody", {}, f.fields.map(x => h("tr", {}, h("td", {}, h("code", {}, x.name), x.required ? h("span", { class: "badge" }, "required") : null,
          x.operator ? h("span", { class: "badge", title: "set in the node's config only, never by an invoke request" }, "operator") : null), h("td", {}, x.type),
          h("td", {}, x.default === undefined || x.default === null ? "" : h("code", {}, JSON.stringify(x.default))), h("td", {}, x.doc))))) : h("p", { class: "muted" }, "No config."),
      h("details", { open: sel === f.name }, h("summary", {}, "Try it"),
        h("form", { onsubmit: async (ev) => {
          ev.preventDefault();
          out.replaceChildren(h("p", { class: "muted" }, "Running…"));
          let config, events;
          try { config = cfg.value.trim() ? JSON.parse(cfg.value) : {}; } catch (e) { out.replaceChildren(errorBox("config is not JSON: " + e.message)); return; }
          try { events = JSON.parse(evs.value); } catch (e) { out.replaceChildren(errorBox("events: not JSON: " + e.message)); return; }
          if (!Array.isArray(events)) events = [events];
          try {
            const r = await api("POST", `/v1/functions/${encodeURIComponent(f.name)}/invoke`, { body: { config, events } });
            out.replaceChildren(...r.results.map(res => h("div", { class: "card" }, h("strong", {}, `event ${res.index}`),
              res.error ? h("div", { class: "error-box" }, res.error) : res.filtered ? h("p", { class: "muted" }, "filtered out") :
                res.outputs.length ? res.outputs.map(o => jsonView(o)) : h("p", { class: "muted" }, "no output"))));
          } catch (e) { out.replaceChildren(errorBox(e)); }
        } },
          field("Config (JSON)", cfg),
          operator.length ? h("p", { class: "muted operator-note" }, "Left out: ", operator.map((n, i) => [i ? ", " : "", h("code", {}, n)]).flat(),
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
          h("button", { type: "submit" }, "Invoke"), out)));
    main.append(card);
  }
};
