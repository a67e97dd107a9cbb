// stream.js: one stream: its events (live, newest first, or browsed from a
// position), filtered by CEL on the server; its schema versions; a produce
// form; and the commands that do the same from a shell.
"use strict";

const MAX_ROWS = 1000;      // rows kept on screen; older ones leave the bottom
const MAX_BUFFERED = 50000; // events kept while the live view is paused

sluice.pages.stream = async function (main) {
  const name = seg(3);
  let info;
  try { info = await api("GET", "/v1/streams/" + encodeURIComponent(name)); }
  catch (e) { main.append(h("h1", {}, name), errorBox(e)); return; }
  const stats = h("p", { class: "muted", id: "stream-stats" });
  const showStats = (s) => stats.replaceChildren(`schema v${s.version} · ${fmtNum(s.messages)} events · ${fmtBytes(s.bytes)} · ${fmtRate(s.rate_per_s)} · last event ${fmtTime(s.last_time) || "none"}`,
    s.key && s.key.length ? ` · key ${s.key.join(", ")}` : "");
  showStats(info);
  every(2000, async () => { try { showStats(await api("GET", "/v1/streams/" + encodeURIComponent(name))); } catch (e) { /* shown on the next try */ } });

  const tabs = { messages: "Messages", schema: "Schema", produce: "Produce", commands: "Commands" };
  const panel = h("div", { id: "panel" });
  const bar = h("div", { class: "tabs", role: "tablist" });
  const show = (tab) => {
    params.set({ tab: tab === "messages" ? "" : tab });
    for (const b of bar.children) b.setAttribute("aria-selected", b.dataset.tab === tab ? "true" : "false");
    leavePanel();
    panel.replaceChildren();
    ({ messages: messagesPanel, schema: schemaPanel, produce: producePanel, commands: commandsPanel })[tab](panel, name, info);
  };
  for (const [k, label] of Object.entries(tabs)) bar.append(h("button", { type: "button", role: "tab", "data-tab": k, onclick: () => show(k) }, label));
  main.append(h("div", { class: "head" }, h("h1", {}, name), h("a", { href: "/ui/streams", class: "muted" }, "all streams")), stats, bar, panel);
  show(tabs[params.get("tab")] ? params.get("tab") : "messages");
};

// The panel's own cleanup (a live subscription) runs when the tab changes.
let panelCleanup = [];
function leavePanel() { panelCleanup.forEach(f => f()); panelCleanup = []; }
onLeaveAll(() => leavePanel());
function onLeaveAll(fn) { sluice.onNavigate = sluice.onNavigate || []; sluice.onNavigate.push(fn); }

function eventsURL(name, q) {
  const u = new URLSearchParams(Object.assign({ envelope: "true" }, q));
  for (const [k, v] of [...u]) if (v === "") u.delete(k);
  return "/v1/streams/" + encodeURIComponent(name) + "/events?" + u.toString();
}

// eventRow shows one event: sequence, time, key, the stream's preview
// fields and its JSON (folded).
function eventRow(env, fields) {
  const d = h("details", { class: "event" });
  d.append(h("summary", {},
    h("span", { class: "seq", title: "sequence" }, "#" + env.seq),
    h("span", { class: "time" }, fmtTime(env.time)),
    env.key ? h("span", { class: "key" }, env.key) : null,
    h("code", { class: "preview" }, fieldsPreview(env.event, fields))));
  d.addEventListener("toggle", () => {
    if (d.open && d.children.length === 1) {
      d.append(h("div", { class: "event-body" },
        h("div", { class: "muted small" }, "id ", h("code", {}, env.id || "(none)"), " · seq ", h("code", {}, String(env.seq))),
        jsonView(env.event)));
    }
  }, { once: false });
  d.dataset.seq = env.seq;
  d.dataset.id = env.id || "";
  return d;
}

function messagesPanel(panel, name, info) {
  const mode = params.get("mode") === "browse" ? "browse" : "live";
  const filter = h("input", { type: "text", name: "filter", value: params.get("filter"), placeholder: 'event.wiki == "enwiki" && event.bot == false', spellcheck: "false", class: "wide" });
  const since = h("input", { type: "text", name: "since", value: params.get("since") || (mode === "browse" ? "earliest" : ""), placeholder: "earliest | latest | 2026-11-27T10:00:00Z | 1234", spellcheck: "false" });
  const status = h("span", { class: "status", role: "status", "aria-live": "polite" });
  const list = h("div", { class: "events", "aria-label": "Events" });
  const nav = h("div", { class: "pager" });
  const problems = h("div");
  let shown = []; // envelopes on screen, in screen order

  const apply = (ev) => {
    ev && ev.preventDefault();
    params.set({ filter: filter.value.trim(), since: modeSel.value === "browse" ? since.value.trim() : "", mode: modeSel.value === "browse" ? "browse" : "" });
    leavePanel();
    panel.replaceChildren();
    messagesPanel(panel, name, info);
  };
  const modeSel = h("select", { name: "mode", onchange: apply }, h("option", { value: "live", selected: mode === "live" }, "Live: newest first"), h("option", { value: "browse", selected: mode === "browse" }, "Browse from a position"));
  const exportBtn = h("button", { type: "button", onclick: () => {
    const text = shown.map(e => JSON.stringify(e.event)).join("\n") + "\n";
    const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/x-ndjson" })), download: name + ".ndjson" });
    document.body.append(a); a.click(); a.remove();
  } }, "Export NDJSON");
  const form = h("form", { class: "toolbar", onsubmit: apply },
    field("View", modeSel),
    mode === "browse" ? field("From", since, "a position, as in the API") : null,
    field("Filter (CEL over event)", filter),
    h("button", { type: "submit" }, "Apply"), exportBtn);
  panel.append(form, previewFields(name, info, (next) => { Object.assign(info, { preview_default: false }, next); apply(); }), problems, h("div", { class: "toolbar" }, status, nav), list);

  const render = () => { list.replaceChildren(...shown.map(e => eventRow(e, info.preview))); if (!shown.length) list.append(h("p", { class: "muted empty" }, "No events here" + (filter.value ? " that match the filter." : "."))); };
  const fail = (e) => { problems.replaceChildren(errorBox(e)); };
  const f = params.get("filter");

  if (mode === "browse") {
    let first = 0, next = "";
    const load = async (q, reverse) => {
      problems.replaceChildren();
      try {
        const r = await api("GET", eventsURL(name, Object.assign({ limit: 50, filter: f }, q)), { text: true });
        let evs = ndjson(r.text);
        if (reverse) evs.reverse();
        const nx = r.headers.get("Sluice-Next");
        if (reverse) { if (evs.length) { shown = evs; } first = evs.length ? evs[0].seq : Number(nx); next = shown.length ? String(shown[shown.length - 1].seq + 1) : next; }
        else { shown = evs; next = nx; first = evs.length ? evs[0].seq : Number(nx); }
        if (shown.length) params.set({ since: String(shown[0].seq) });
        status.textContent = shown.length ? `events #${shown[0].seq} to #${shown[shown.length - 1].seq}` : "nothing in this range";
        render();
      } catch (e) { fail(e); }
    };
    nav.append(
      h("button", { type: "button", onclick: () => load({ order: "desc", until: String(first || 1) }, true) }, "← Older"),
      h("button", { type: "button", onclick: () => load({ since: next || "latest" }) }, "Newer →"));
    load({ since: params.get("since") || "earliest" });
    return;
  }

  // Live: the newest events first, then new ones as they arrive.
  let paused = false, buffered = [], overflow = 0, pending = [], frame = 0;
  const pauseBtn = h("button", { type: "button", "aria-pressed": "false", onclick: () => {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    pauseBtn.setAttribute("aria-pressed", String(paused));
    if (!paused) { pending.push(...buffered); buffered = []; overflow = 0; schedule(); }
    showState();
  } }, "Pause");
  nav.append(pauseBtn);
  let conn = "connecting";
  const showState = () => {
    status.className = "status " + conn;
    status.textContent = conn + (paused ? ` · paused, ${fmtNum(buffered.length)} new` + (overflow ? ` (+${fmtNum(overflow)} not kept)` : "") : "");
  };
  const flush = () => {
    frame = 0;
    if (!pending.length) return;
    const batch = pending; pending = [];
    batch.reverse();
    shown = batch.concat(shown).slice(0, MAX_ROWS);
    const frag = document.createDocumentFragment();
    batch.forEach(e => frag.append(eventRow(e, info.preview)));
    list.querySelector(".empty")?.remove();
    list.prepend(frag);
    while (list.children.length > MAX_ROWS) list.lastChild.remove();
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(flush); };
  (async () => {
    try {
      const st = await api("GET", "/v1/streams/" + encodeURIComponent(name));
      const end = st.last_seq + 1;
      const r = await api("GET", eventsURL(name, { order: "desc", limit: 50, until: String(end), filter: f }), { text: true });
      shown = ndjson(r.text);
      render();
      const es = new EventSource(eventsURL(name, { since: String(end), filter: f }));
      panelCleanup.push(() => es.close());
      es.onopen = () => { conn = "connected"; showState(); };
      es.onerror = () => {
        conn = es.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
        showState();
        // EventSource does not say why it closed: a session that ended
        // (401) shows as such, and sends the browser to sign in again.
        if (conn === "closed") api("GET", "/v1/session").then(() => {}, (e) => problems.replaceChildren(errorBox(e)));
      };
      es.addEventListener("error", (ev) => { if (ev.data) problems.replaceChildren(errorBox(JSON.parse(ev.data).detail)); });
      es.onmessage = (ev) => {
        const env = JSON.parse(ev.data);
        if (paused) { if (buffered.length < MAX_BUFFERED) buffered.push(env); else overflow++; showState(); return; }
        pending.push(env);
        schedule();
      };
      showState();
    } catch (e) { fail(e); }
  })();
}

// previewFields shows which fields sum each row up, and changes them (a
// PUT of the stream's spec with preview set, or left out for the default);
// without the spec (no definitions on this node) it only shows them.
function previewFields(name, info, changed) {
  const list = (info.preview || []).join(", ");
  const d = h("details", { class: "preview-fields small" },
    h("summary", { class: "muted" }, "Row fields: ", list ? h("code", {}, list) : "none (the first bytes)", info.preview_default ? " (from the schema)" : ""));
  if (!info.spec) return d;
  const input = h("input", { type: "text", name: "preview", value: info.preview_default ? "" : list, placeholder: info.preview_default ? list : "/title, /wiki", spellcheck: "false", class: "wide" });
  const out = h("div");
  const save = async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const spec = Object.assign({}, info.spec);
    const ptrs = input.value.split(",").map(s => s.trim()).filter(Boolean);
    if (ptrs.length) spec.preview = ptrs; else delete spec.preview;
    try { changed(await api("PUT", "/v1/streams/" + encodeURIComponent(name), { body: spec })); }
    catch (e) { out.append(errorBox(e)); }
  };
  d.append(h("form", { class: "preview-form", onsubmit: save },
    field("Preview fields", input, "up to 8 comma-separated JSON pointers; empty: chosen from the schema"),
    h("button", { type: "submit" }, "Save")), out);
  return d;
}

async function schemaPanel(panel, name, info) {
  const versions = info.versions.map(v => v.version);
  const cur = versions[versions.length - 1];
  const a = h("select", {}, versions.map(v => h("option", { value: v, selected: v === Math.max(1, cur - 1) }, "v" + v)));
  const b = h("select", {}, versions.map(v => h("option", { value: v, selected: v === cur }, "v" + v)));
  const out = h("div");
  const diff = async () => {
    try {
      const [va, vb] = await Promise.all([a.value, b.value].map(v => api("GET", `/v1/streams/${encodeURIComponent(name)}/versions/${v}`)));
      out.replaceChildren(h("h3", {}, `v${a.value} → v${b.value}`), diffView(JSON.stringify(va.schema, null, 2), JSON.stringify(vb.schema, null, 2)));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  addChildren(panel,
    h("h2", {}, "Versions"),
    h("ul", {}, info.versions.map(v => h("li", {}, `v${v.version} · ${fmtTime(v.created)}`, v.forced ? h("span", { class: "badge warn" }, "forced") : null,
      v.breaking ? h("ul", {}, v.breaking.map(c => h("li", {}, h("code", {}, c.pointer || "/"), " ", c.message || c.kind))) : null))),
    versions.length > 1 ? h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); diff(); } }, field("From", a), field("To", b), h("button", { type: "submit" }, "Compare")) : null,
    out,
    h("h2", {}, `Current schema (v${cur})`), jsonView(info.schema),
    h("h2", {}, "Definition"), h("p", { class: "muted small" }, "The stream's spec (schema, id, time, key, retention): every change, who made it and what it changed."),
    definitionHistory("streams", name));
  if (versions.length > 1) diff();
}

function producePanel(panel, name) {
  const ta = h("textarea", { rows: 10, class: "code", name: "events", placeholder: "One JSON event, a JSON array of events, or NDJSON (one per line)", spellcheck: "false" });
  const out = h("div", { id: "produce-result" });
  panel.append(h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    let type = "application/json";
    try { JSON.parse(ta.value); } catch (e) { type = "application/x-ndjson"; }
    try {
      const r = await api("POST", "/v1/streams/" + encodeURIComponent(name) + "/events", { raw: ta.value, type, full: true });
      const res = r.data;
      addChildren(out, h("p", { class: r.status === 200 ? "ok" : "warn" }, `${res.accepted} stored, ${res.duplicates} duplicate(s)` + (res.invalid ? `, ${res.invalid.length} refused:` : "")),
        res.events.length ? h("p", { class: "muted" }, "sequences: " + res.events.map(e => "#" + e.seq + (e.duplicate ? " (duplicate)" : "")).join(", ")) : null,
        res.invalid ? invalidList(res.invalid) : null);
    } catch (e) { out.append(errorBox(e)); }
  } }, field("Events", ta), h("button", { type: "submit" }, "Produce"), out));
}

function commandsPanel(panel, name) {
  const base = location.origin, path = `/v1/streams/${name}/events`;
  const since = params.get("since") || "earliest";
  const filt = params.get("filter");
  const fq = filt ? "&filter=" + encodeURIComponent(filt) : "";
  const cmds = [
    ["Produce one event (curl)", `curl -sS -X POST -H 'Content-Type: application/json' --data-binary @event.json '${base}${path}'`],
    ["Produce NDJSON (sluice)", `sluice --server ${base} produce ${name} events.ndjson`],
    ["Read from the current position (curl, NDJSON pages; Sluice-Next says where the next starts)", `curl -sS -D - '${base}${path}?since=${encodeURIComponent(since)}&limit=100${fq}'`],
    ["Read from the current position (sluice)", `sluice --server ${base} tail ${name} --since ${since} -n 100`],
    ["Subscribe (Server-Sent Events; resume after the last sequence received)", `curl -sSN -H 'Accept: text/event-stream' -H 'Last-Event-ID: 41' '${base}${path}?${fq.slice(1)}'`],
    ["Follow new events (sluice)", `sluice --server ${base} tail ${name} -f`],
  ];
  panel.append(h("h2", {}, "Commands"), h("dl", { class: "cmds" }, cmds.map(([label, c]) => [h("dt", {}, label), h("dd", {}, h("pre", {}, c), copyButton(c))])));
}
