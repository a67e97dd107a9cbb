// main.js: the router. Each address under /ui/ is a page; links inside the
// app change the page without a reload, and the back button works.
"use strict";

function route() {
  const parts = location.pathname.split("/").filter(Boolean); // ["ui", page, name?]
  const page = parts[1] || "streams";
  if (page === "streams" && parts[2]) return "stream";
  if (page === "pipelines" && (parts[2] === "new" || parts[3] === "edit")) return "pipelineForm";
  return sluice.pages[page] ? page : "notfound";
}

sluice.pages.notfound = async (main) => { main.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "/ui/streams" }, "Streams"))); };

async function render() {
  sluice.cleanup.forEach(f => { try { f(); } catch (e) { /* keep going */ } });
  sluice.cleanup = [];
  (sluice.onNavigate || []).forEach(f => f());
  const main = document.getElementById("main");
  main.replaceChildren();
  if (signedOut() && route() !== "signin") {
    history.replaceState(null, "", "/ui/signin?next=" + encodeURIComponent(location.pathname + location.search));
  }
  const page = route();
  const top = location.pathname === "/ui/streams/sluice.audit" ? "audit" : location.pathname.split("/")[2] || "streams";
  document.querySelectorAll("nav a").forEach(a => {
    if (a.dataset.page === top) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  document.title = (seg(3) || top) + " · sluice";
  // Each page gets a view of its own: what it still does after the page
  // changed (an answer that came late) lands in a view no longer shown.
  const view = h("div", { class: "view" });
  main.append(view);
  try { await sluice.pages[page](view); } catch (e) { view.append(errorBox(e)); }
}

function go(path) {
  history.pushState(null, "", path);
  render();
  document.getElementById("main").focus({ preventScroll: true });
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a");
  if (!a || a.target || a.hasAttribute("download") || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || !u.pathname.startsWith("/ui/")) return;
  ev.preventDefault();
  go(u.pathname + u.search);
});
window.addEventListener("popstate", render);

// start asks the node whether it wants a token (and which one this browser
// signed in with) before the first page shows.
async function start() {
  try { sluice.session = await api("GET", "/v1/session", { signIn: false }); }
  catch (e) { sluice.session = { enabled: e.status === 401 }; } // a node without the route has no access control
  showSession();
  render();
}
start();
