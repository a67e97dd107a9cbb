// ops.js: sources and pipelines: state, position, lag (events and time,
// with the last hour as a small chart), rate, counts, the last error; their
// dead letters with the full error and input (raw bytes of what was not an
// event); pause, resume, reset, redrive (an operation: its progress shows on
// the card, followed from operation.js).
"use strict";

sluice.pages.sources = async function (main) {
  const body = h("div");
  main.append(h("h1", {}, "Sources"), body);
  every(3000, async () => {
    let list;
    try { list = (await api("GET", "/v1/sources")).sources; } catch (e) { body.replaceChildren(errorBox(e)); return; }
    if (!list.length) { body.replaceChildren(h("p", { class: "muted" }, "No sources. Declare them under sources: in sluice.yaml.")); return; }
    if (body.dataset.n !== String(list.length)) { body.replaceChildren(...list.map(s => h("section", { class: "card", id: "source-" + s.name }))); body.dataset.n = list.length; }
    list.forEach((s, i) => sourceCard(body.children[i], s));
  });
};

// nodeBadge names the node that runs a source or pipeline, among nodes
// sharing the engine.
function nodeBadge(node) {
  return node ? h("a", { class: "badge node", href: "/ui/cluster#node-" + encodeURIComponent(node), title: "the node that runs it" }, "on " + node) : null;
}

function stateBadge(state, paused) {
  const cls = paused ? "warn" : ["streaming", "running"].includes(state) ? "ok" : ["failing", "failed", "backing_off"].includes(state) ? "bad" : "";
  return h("span", { class: "badge " + cls }, state);
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(p => p[1] !== undefined && p[1] !== null && p[1] !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function sourceCard(card, s) {
  const keep = card.querySelector("details.dead");
  const keepHistory = card.querySelector("details.def-history");
  const act = async (verb) => { try { await api("POST", `/v1/sources/${encodeURIComponent(s.name)}/${verb}`); toast(`${s.name}: ${verb}d`); } catch (e) { toast(e.message, true); } };
  putChildren(card,
    h("div", { class: "head" }, h("h2", {}, s.name), stateBadge(s.state, s.paused), nodeBadge(s.node), h("span", { class: "muted" }, s.kind + " → ", h("a", { href: "/ui/streams/" + encodeURIComponent(s.to) }, s.to)),
      h("span", { class: "spacer" }),
      s.paused ? h("button", { type: "button", onclick: () => act("resume") }, "Resume") : h("button", { type: "button", onclick: () => act("pause") }, "Pause")),
    h("div", { class: "row" },
      kv([["position", s.position ? h("code", { class: "pos" }, s.position.length > 80 ? s.position.slice(0, 80) + "…" : s.position) : "none yet"],
        ["behind its feed", s.lag_seconds != null ? fmtAgo(s.lag_seconds) : h("span", { title: "a file import: event times are the data's" }, "—")],
        ["last stored", fmtTime(s.last_stored_time)], ["last event", fmtTime(s.last_event_time)], ["running since", fmtTime(s.started_at)]]),
      kv([["in", fmtNum(s.events_in)], ["stored", fmtNum(s.stored)], ["duplicates", fmtNum(s.duplicates)], ["dropped", fmtNum(s.dropped)],
        ["dead-lettered", fmtNum(s.dead_lettered)], ["reconnects", fmtNum(s.reconnects)]]),
      historyCharts(s.history, "behind the feed at last store (s)")),
    s.last_error ? h("div", { class: "error-box" }, h("strong", {}, "Last error " + fmtTime(s.last_error_time) + ": "), s.last_error, s.retry_at ? " · retry at " + fmtTime(s.retry_at) : "") : null,
    keep || deadLetters(s.to + ".dlq", null, s.dead_lettered),
    keepHistory || definitionHistory("sources", s.name));
}

// historyCharts draws the last hour of lag (events and seconds, captioned
// secCaption) and rate.
function historyCharts(hist, secCaption) {
  if (!hist || !hist.length) return h("div", { class: "charts muted small" }, "history: collecting (a sample every 30 s)");
  const col = (k) => hist.map(p => p[k] || 0);
  const charts = [];
  if (hist.some(p => p.lag_events != null)) charts.push(h("figure", {}, sparkline(col("lag_events"), "lag in events, last hour"), h("figcaption", {}, "lag (events)")));
  charts.push(h("figure", {}, sparkline(col("lag_seconds"), "lag in seconds, last hour"), h("figcaption", {}, secCaption || "oldest input waiting (s)")));
  charts.push(h("figure", {}, sparkline(col("rate"), "events per second, last hour"), h("figcaption", {}, "rate (/s)")));
  return h("div", { class: "charts" }, charts);
}

// deadLetters lists the newest dead letters of a stream (folded until
// opened); for a pipeline, with a redrive button.
function deadLetters(streamName, pipeline, count) {
  const d = h("details", { class: "dead", "data-pipeline": pipeline || "" });
  const body = h("div");
  d.append(h("summary", {}, `Dead letters (${streamName})` + (count ? ` · ${fmtNum(count)} this run` : "")), body);
  const load = async () => {
    body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    let items;
    try {
      const r = await api("GET", `/v1/streams/${encodeURIComponent(streamName)}/events?order=desc&limit=50&envelope=true`, { text: true });
      items = ndjson(r.text);
    } catch (e) {
      body.replaceChildren(e.status === 404 ? h("p", { class: "muted" }, "None yet.") : errorBox(e));
      return;
    }
    const tools = h("div", { class: "toolbar" });
    if (pipeline) {
      // The redrive runs on the server; its progress shows on the card (and
      // the list loads again when it ends), the other buttons stay usable.
      tools.append(h("button", { type: "button", class: "redrive", onclick: async () => {
        try {
          const op = await api("POST", `/v1/pipelines/${encodeURIComponent(pipeline)}/redrive`);
          toast(`${pipeline}: redrive started`);
          const card = document.getElementById("pipeline-" + pipeline);
          if (card) showOp(card, op, redriveEnded);
        } catch (e) { toast(e.message, true); }
      } }, "Redrive all"));
    }
    tools.append(h("a", { href: `/ui/streams/${encodeURIComponent(streamName)}` }, "open the stream"));
    body.replaceChildren(tools, items.length ? h("ol", { class: "dead-list" }, items.map(deadLetterItem)) : h("p", { class: "muted empty" }, "No dead letters."));
  };
  d.addEventListener("toggle", () => { if (d.open) load(); });
  d.addEventListener("reload", () => { if (d.open) load(); });
  return d;
}

// redriveEnded says how a redrive ended and shows the dead letters left.
function redriveEnded(op) {
  const p = op.progress || {};
  toast(op.state === "succeeded" ? `${op.pipeline}: redrive: ${fmtNum(p.succeeded)} of ${fmtNum(p.succeeded + p.failed)} went through` : `${op.pipeline}: redrive ${op.state}` + (op.error ? ": " + op.error : ""),
    op.state !== "succeeded" || p.failed > 0);
  const d = document.querySelector(`details.dead[data-pipeline="${op.pipeline}"]`);
  if (d) d.dispatchEvent(new Event("reload"));
}

function deadLetterItem(env) {
  const e = env.event || {};
  const why = e.error ? [h("div", { class: "dl-error" }, e.error),
    e.chain && e.chain.length > 1 ? h("ul", { class: "chain" }, e.chain.slice(1).map(c => h("li", {}, c))) : null,
    e.http_status ? h("div", { class: "muted" }, `HTTP ${e.http_status}` + (e.attempts ? ` after ${e.attempts} attempt(s)` : "")) : null,
    e.http_body ? h("pre", { class: "raw" }, e.http_body) : null,
    e.invalid ? invalidList([{ index: 0, errors: e.invalid }]) : null]
    : e.errors ? [invalidList([{ index: 0, errors: e.errors }])] : [];
  const inp = e.input;
  const input = inp ? inp.event : e.raw;
  let inputView;
  if (inp && inp.event_base64) {
    inputView = [h("p", { class: "muted small" }, `not JSON: ${fmtNum(inp.event_bytes)} bytes, in base64` + (inp.event_truncated ? " (the first ones)" : "") + ", then as text:"),
      h("pre", { class: "raw b64" }, inp.event_base64), h("pre", { class: "raw" }, b64Text(inp.event_base64))];
  } else if (inp && inp.event_truncated) {
    inputView = h("p", { class: "muted" }, `Too large to keep here (${fmtNum(inp.event_bytes)} bytes): it is #${inp.seq} of `,
      h("a", { href: `/ui/streams/${encodeURIComponent(inp.stream)}?mode=browse&since=${inp.seq}` }, inp.stream), "; a redrive reads it from there.");
  } else if (typeof input === "string") { try { inputView = jsonView(JSON.parse(input)); } catch (x) { inputView = h("pre", { class: "raw" }, input); } }
  else inputView = input ? jsonView(input) : null;
  return h("li", { class: "dead-letter" },
    h("div", { class: "muted small" }, "#" + env.seq, " · ", fmtTime(env.time), inp ? ` · input ${inp.stream} #${inp.seq}` : e.source ? " · from " + e.source : "",
      inp && inp.foreign ? h("span", { class: "badge bad foreign", title: "published straight into the stream's NATS subject, unchecked: a redrive fails it again" }, "not an event") : null),
    why, h("details", {}, h("summary", {}, "input"), inputView));
}

// b64Text shows base64 bytes as text, invalid UTF-8 replaced.
function b64Text(b64) {
  try { return new TextDecoder("utf-8").decode(Uint8Array.from(atob(b64), c => c.charCodeAt(0))); } catch (e) { return ""; }
}

sluice.pages.pipelines = async function (main) {
  const body = h("div");
  main.append(h("div", { class: "head" }, h("h1", {}, "Pipelines"), h("a", { href: "/ui/pipelines/new", class: "button new-pipeline" }, "New pipeline")), body);
  every(3000, async () => {
    let list, versions = {};
    try {
      const [pl, defs] = await Promise.all([api("GET", "/v1/pipelines"), api("GET", "/v1/definitions?kind=pipelines").catch(() => ({ definitions: [] }))]);
      list = pl.pipelines;
      defs.definitions.forEach(d => { versions[d.name] = d.version; });
    } catch (e) { body.replaceChildren(errorBox(e)); return; }
    if (!list.length) { body.replaceChildren(h("p", { class: "muted" }, "No pipelines yet: create one (New pipeline), declare them under pipelines: in sluice.yaml, or sluice apply a project.")); delete body.dataset.names; return; }
    const names = list.map(p => p.name).join("\n");
    if (body.dataset.names !== names) { body.replaceChildren(...list.map(p => h("section", { class: "card", id: "pipeline-" + p.name }))); body.dataset.names = names; }
    list.forEach((p, i) => pipelineCard(body.children[i], p, versions[p.name]));
  });
};

function pipelineCard(card, p, version) {
  const keep = card.querySelector("details.dead");
  const keepHistory = card.querySelector("details.def-history");
  const op = freshest(p.operation);
  const busy = op && op.state === "running";
  const resetIn = card.querySelector("input.reset-to") || h("input", { class: "reset-to", placeholder: "2026-11-27T10:00:00Z | earliest | 1234", "aria-label": "Reset to position", spellcheck: "false" });
  const act = async (verb, q) => {
    try { await api("POST", `/v1/pipelines/${encodeURIComponent(p.name)}/${verb}` + (q || "")); toast(`${p.name}: ${verb} done`); }
    catch (e) { toast(e.message, true); }
  };
  putChildren(card,
    h("div", { class: "head" }, h("h2", {}, p.name), stateBadge(p.state, p.paused), nodeBadge(p.node), version ? h("span", { class: "badge version", title: "the definition's version" }, "v" + version) : null,
      h("span", { class: "muted" }, h("a", { href: "/ui/streams/" + encodeURIComponent(p.from) }, p.from), " → ", p.function, " → ",
        (p.to || []).map((t, i) => [i ? ", " : "", t.startsWith("stream:") ? h("a", { href: "/ui/streams/" + encodeURIComponent(t.slice(7)) }, t) : t.startsWith("table:") ? h("a", { href: "/ui/tables/" + encodeURIComponent(t.slice(6)) }, t) : t])),
      h("span", { class: "spacer" }),
      version ? h("a", { href: `/ui/pipelines/${encodeURIComponent(p.name)}/edit`, class: "button edit" }, "Edit") : null,
      p.paused ? h("button", { type: "button", onclick: () => act("resume") }, "Resume") : h("button", { type: "button", onclick: () => act("pause") }, "Pause")),
    h("div", { class: "row" },
      kv([["position", "#" + fmtNum(p.position)], ["lag", pipelineLag(p)],
        ["rate", fmtRate(p.rate)], ["last event", fmtTime(p.last_event_time)]]),
      kv([["processed", fmtNum(p.processed)], ["filtered out", fmtNum(p.filtered)], ["failed", fmtNum(p.failed)], ["outputs", fmtNum(p.outputs)],
        ["counted", p.counted_since ? "totals since " + fmtTime(p.counted_since) : "since this node started it"]]),
      historyCharts(p.history)),
    p.last_error ? h("div", { class: "error-box" }, h("strong", {}, "Last error " + fmtTime(p.last_error_time) + ": "), p.last_error) : null,
    opBox(op),
    p.files && p.files.length ? filesTable(p.files) : null,
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); if (resetIn.value.trim() && confirm(`Reset ${p.name} to ${resetIn.value.trim()}? Inputs from there are processed again.`)) act("reset", "?to=" + encodeURIComponent(resetIn.value.trim())); } },
      field("Reset to", resetIn, "a time, a sequence, earliest or latest"), h("button", { type: "submit" }, "Reset")),
    keep || deadLetters(p.name + ".errors", p.name, p.failed),
    version ? keepHistory || definitionHistory("pipelines", p.name) : null);
  historySeen(card.querySelector("details.def-history"), version);
  // An operation started elsewhere (the CLI, another tab) is followed too.
  showOp(card, op, op && op.kind === "redrive" ? redriveEnded : null);
  const rd = card.querySelector("button.redrive");
  if (rd) { rd.disabled = busy; rd.title = busy ? `${opTitle(op)} is running` : ""; }
}

// pipelineLag is "caught up", or how many inputs wait and for how long the
// oldest has (since it was stored: a replay of old events is not late).
function pipelineLag(p) {
  if (p.lag_events === 0) return "caught up";
  return `${fmtNum(p.lag_events)} events` + (p.lag_seconds != null ? `, oldest waiting ${fmtAgo(p.lag_seconds)}` : "");
}

// filesWaiting says why a files output's events are not in an object yet:
// held in the open one until it rolls, or not read yet.
function filesWaiting(f) {
  const held = `${fmtNum(f.held_events || 0)} held in the open object` + (f.unread_events > 0 ? ` · ${fmtNum(f.unread_events)} not read yet` : "");
  const why = f.next_roll ? "next roll by " + fmtTime(f.next_roll) : f.roll ? "rolls " + f.roll : "";
  return h("span", { title: "events not yet in a committed object: held + unread" }, held, why ? h("div", { class: "muted small" }, why) : null);
}

// filesTable shows a pipeline's files outputs: where, how far, what was written.
function filesTable(list) {
  return h("div", { class: "scroll" }, h("table", { class: "grid files", "aria-label": "Files outputs" },
    h("thead", {}, h("tr", {}, ["Files output", "Format", "State", "Committed to", "Waiting", "Objects", "Last object", "Last error"].map(c => h("th", { scope: "col" }, c)))),
    h("tbody", {}, list.map(f => h("tr", {},
      h("td", {}, h("code", {}, f.url)), h("td", {}, f.format), h("td", {}, stateBadge(f.state)),
      h("td", { class: "num" }, "#" + fmtNum(f.position)), h("td", {}, filesWaiting(f)),
      h("td", { class: "num" }, fmtNum(f.objects) + (f.skipped ? ` (${fmtNum(f.skipped)} found after a restart)` : "") +
        (f.foreign ? ` · ${fmtNum(f.foreign)} messages passed over (not events)` : "")),
      h("td", {}, f.last_object ? h("code", {}, f.last_object) : "", f.last_commit_time ? h("div", { class: "muted small" }, fmtTime(f.last_commit_time)) : null),
      h("td", {}, f.last_error || ""))))));
}
