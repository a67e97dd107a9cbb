// core.js: the few helpers every page uses: the API client, an element
// builder, formatting, and the router's page registry.
"use strict";

// session is GET /v1/session's answer: {enabled, token, csrf}; csrf is
// what every change made with the session cookie sends (X-Sluice-CSRF).
const sluice = { pages: {}, cleanup: [], session: { enabled: false } };

// ApiError carries an RFC 9457 problem document from the API.
class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ("HTTP " + status));
    this.status = status;
    this.problem = problem || {};
  }
}

// api calls the v1 API; JSON in and out. opts: {body, raw (a string body),
// type (content type), text (answer as text), headers, signIn (false: a
// 401 is the caller's to show, not a reason to go to the sign-in page)}.
async function api(method, path, opts = {}) {
  const init = { method, headers: Object.assign({}, opts.headers || {}) };
  if (!["GET", "HEAD"].includes(method)) Object.assign(init.headers, csrfHeader());
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    init.headers["Content-Type"] = "application/json";
  } else if (opts.raw !== undefined) {
    init.body = opts.raw;
    init.headers["Content-Type"] = opts.type || "application/json";
  }
  const resp = await fetch(path, init);
  const ctype = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    let problem = null;
    if (ctype.includes("json")) { try { problem = await resp.json(); } catch (e) { /* not JSON after all */ } }
    if (resp.status === 401 && opts.signIn !== false) needSignIn();
    throw new ApiError(resp.status, problem);
  }
  if (opts.text) return { text: await resp.text(), headers: resp.headers, status: resp.status };
  if (resp.status === 204) return null;
  const data = ctype.includes("json") ? await resp.json() : await resp.text();
  if (opts.full) return { data, headers: resp.headers, status: resp.status };
  return data;
}

// csrfHeader is the header a change sends with the session cookie.
function csrfHeader() { return sluice.session.csrf ? { "X-Sluice-CSRF": sluice.session.csrf } : {}; }

// needSignIn ends a session the node no longer takes (no cookie, a revoked
// or expired token) and shows the sign-in page, which comes back here.
function needSignIn() {
  sluice.session = { enabled: true };
  showSession();
  if (!location.pathname.startsWith("/ui/signin")) render(); // render sends a signed-out browser to the sign-in page
}

// ndjson splits an NDJSON answer into objects.
function ndjson(text) {
  return text.split("\n").filter(l => l.trim() !== "").map(l => JSON.parse(l));
}

// h builds an element: h("a", {href: "/x", onclick: fn}, "text", child, ...).
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "value") e.value = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// addChildren and putChildren append or replace children, skipping null,
// undefined and false as h does (the DOM's append writes them as text).
function addChildren(el, ...children) { el.append(...present(children)); }
function putChildren(el, ...children) { el.replaceChildren(...present(children)); }
function present(children) { return children.flat(Infinity).filter(c => c !== undefined && c !== null && c !== false); }

function fmtBytes(n) {
  if (n == null) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}

function fmtNum(n) { return n == null ? "" : Number(n).toLocaleString("en-US"); }

function fmtRate(r) { return r == null ? "" : (r < 10 ? r.toFixed(2) : r.toFixed(0)) + "/s"; }

// fmtTime shows an RFC 3339 time in UTC, to the second.
function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toISOString().replace(".000Z", "Z").replace("T", " ");
}

function fmtAgo(seconds) {
  if (seconds == null) return "";
  if (seconds < 1) return "now";
  if (seconds < 120) return seconds.toFixed(0) + " s";
  if (seconds < 7200) return (seconds / 60).toFixed(0) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

// toast shows a short message; errors stay longer.
function toast(msg, isError) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = isError ? "show error" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, isError ? 8000 : 3000);
}

// errorBox renders an API error in full: the title, the detail and any
// per-event errors with index, JSON pointer and rule.
function errorBox(err) {
  const box = h("div", { class: "error-box", role: "alert" });
  if (err instanceof ApiError) {
    box.append(h("strong", {}, (err.problem.title || "Error") + " (" + err.status + ")"), h("div", {}, err.problem.detail || ""));
    if (err.problem.invalid) box.append(invalidList(err.problem.invalid));
    if (err.problem.breaking) box.append(h("ul", {}, err.problem.breaking.map(b => h("li", {}, h("code", {}, b.pointer || "/"), " ", b.message || b.kind || JSON.stringify(b)))));
  } else {
    box.append(String(err && err.message || err));
  }
  return box;
}

// invalidList lists per-event validation errors.
function invalidList(invalid) {
  return h("ul", { class: "invalid" }, invalid.map(inv => h("li", {},
    h("strong", {}, "event " + inv.index + ": "),
    inv.errors.map(e => h("div", {}, h("code", {}, e.pointer || "/"), " ", h("span", { class: "rule" }, e.keyword), " ", e.message)))));
}

// copyButton copies text() to the clipboard.
function copyButton(text, label) {
  return h("button", { type: "button", class: "small", "aria-label": label || "Copy", onclick: async (ev) => {
    const s = typeof text === "function" ? text() : text;
    try { await navigator.clipboard.writeText(s); toast("Copied"); }
    catch (e) { // clipboard needs a secure context: fall back to a selection
      const ta = h("textarea", {}, s); document.body.append(ta); ta.select(); document.execCommand("copy"); ta.remove(); toast("Copied");
    }
    ev.stopPropagation();
  } }, label || "Copy");
}

// field wraps a control with its label.
function field(label, control, hint) {
  const id = control.id || ("f" + Math.random().toString(36).slice(2, 9));
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

// params reads and writes the page's query string (the shareable state).
const params = {
  get(k) { return new URLSearchParams(location.search).get(k) || ""; },
  set(obj) {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(obj)) { if (v === "" || v == null) q.delete(k); else q.set(k, v); }
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  },
};

// every runs fn now and every ms until the page changes.
function every(ms, fn) {
  fn();
  const id = setInterval(fn, ms);
  sluice.cleanup.push(() => clearInterval(id));
}

// onLeave registers work for when the page changes (close streams, timers).
function onLeave(fn) { sluice.cleanup.push(fn); }

function seg(i) { return decodeURIComponent(location.pathname.split("/")[i] || ""); }

// sparkline draws values as a small SVG line chart.
function sparkline(values, label) {
  const w = 160, hgt = 32;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  if (!values || values.length < 2) { svg.setAttribute("aria-label", label + ": not enough samples yet"); return svg; }
  const mx = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / (values.length - 1) * w).toFixed(1)},${(hgt - 2 - v / mx * (hgt - 4)).toFixed(1)}`);
  const pl = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  pl.setAttribute("points", pts.join(" "));
  svg.append(pl);
  const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
  t.textContent = label + ": max " + fmtNum(mx);
  svg.append(t);
  return svg;
}
