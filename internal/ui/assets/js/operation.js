// operation.js: long operations (a pipeline's redrive, a table's rebuild).
// They run on the server: starting one answers at once (202), and the page
// follows it by polling, so every other control stays usable meanwhile.
"use strict";

// opFollowers: the operations being followed, by id: {subs, last, done}.
const opFollowers = new Map();

// followOp polls an operation until it ends, calling onUpdate with each
// state; one poll per operation however many parts of the page follow it.
// It resolves with the last state (null if the page changed first).
function followOp(id, onUpdate) {
  const known = opFollowers.get(id);
  if (known) { known.subs.push(onUpdate); return known.done; }
  const f = { subs: [onUpdate], last: null };
  let left = false;
  onLeave(() => { left = true; opFollowers.delete(id); });
  f.done = (async () => {
    for (;;) {
      await new Promise(r => setTimeout(r, 500));
      if (left) return null;
      let op;
      try { op = await api("GET", `/v1/operations/${encodeURIComponent(id)}`); }
      catch (e) { opFollowers.delete(id); return null; }
      f.last = op;
      f.subs.forEach(s => s(op));
      if (op.state !== "running") { opFollowers.delete(id); return op; }
    }
  })();
  opFollowers.set(id, f);
  return f.done;
}

// freshest is the newer of an operation as a page refresh saw it and as
// its follower last saw it.
function freshest(op) {
  const f = op && opFollowers.get(op.id);
  return f && f.last ? f.last : op;
}

function opTitle(op) {
  return op.kind === "rebuild" ? `Rebuild of table ${op.table}` : `Redrive of ${op.pipeline}.errors`;
}

// opBox shows an operation: what, its state, a progress bar, its counts,
// when, its error; while it runs, a Cancel button.
function opBox(op) {
  if (!op) return h("div", { class: "operation", hidden: true });
  const p = op.progress || {};
  const running = op.state === "running";
  const of = p.total != null ? " of " + fmtNum(p.total) : "";
  const counts = op.kind === "rebuild"
    ? `${fmtNum(p.done)}${of} output messages read · ${fmtNum(p.succeeded)} written` + (p.failed ? ` · ${fmtNum(p.failed)} refused` : "")
    : `${fmtNum(p.done)}${of} dead letters · ${fmtNum(p.succeeded)} through · ${fmtNum(p.failed)} failed again`;
  const cls = running ? "" : op.state === "succeeded" ? "ok" : ["canceled", "interrupted"].includes(op.state) ? "warn" : "bad";
  const bar = h("progress", { "aria-label": opTitle(op) + ": progress" });
  if (p.total != null) { bar.max = Math.max(p.total, 1); bar.value = p.total ? Math.min(p.done, p.total) : 1; }
  return h("div", { class: "operation", "data-id": op.id, "data-state": op.state },
    h("div", { class: "head" }, h("strong", {}, opTitle(op)), h("span", { class: "badge " + cls }, op.state),
      op.resumes ? h("span", { class: "muted small" }, "started over after a restart") : null,
      h("span", { class: "spacer" }),
      running ? h("button", { type: "button", class: "cancel-op", onclick: async () => {
        try { const v = await api("DELETE", `/v1/operations/${encodeURIComponent(op.id)}`); toast(`${opTitle(v)}: ${v.state}`); }
        catch (e) { toast(e.message, true); }
      } }, "Cancel") : null),
    bar, h("div", { class: "counts" }, counts),
    h("div", { class: "muted small" }, "started " + fmtTime(op.started) + (op.finished ? " · ended " + fmtTime(op.finished) : "")),
    op.error ? h("div", { class: "error-box" }, op.error) : null);
}

// showOp puts an operation into the .operation element under root (which
// outlives re-renders, e.g. a card) and, while it runs, keeps it up to
// date; ended(op) runs once when it ends.
function showOp(root, op, ended) {
  const put = (v) => { const el = root.querySelector(".operation"); if (el) el.replaceWith(opBox(v)); };
  put(freshest(op));
  if (op && op.state === "running" && root.dataset.follows !== op.id) {
    root.dataset.follows = op.id;
    followOp(op.id, put).then(v => {
      if (root.dataset.follows === op.id) delete root.dataset.follows;
      if (v && ended) ended(v);
    });
  }
}
