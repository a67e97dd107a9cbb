// session.js: signing in and out with a token (docs/ACCESS.md). The token
// goes once, in the POST, to the node, which keeps it in an HttpOnly cookie
// out of reach of this page; the page keeps only the session's token's
// name and grants (to show the right links) and its CSRF value.
"use strict";

sluice.pages.signin = async function (main) {
  const s = sluice.session;
  if (!s.enabled) {
    main.append(h("h1", {}, "Sign in"), h("p", {}, "Access control is off on this node: every page works without a token. ", h("a", { href: "/ui/streams" }, "Streams")));
    return;
  }
  const next = safeNext(params.get("next"));
  const input = h("input", { type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true, "aria-describedby": "signin-help" });
  const out = h("div", { id: "signin-result" });
  const form = h("form", { class: "card signin", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    let session;
    try { session = await api("POST", "/v1/session", { body: { token: input.value.trim() }, signIn: false }); }
    catch (e) { out.append(errorBox(e)); input.focus(); return; }
    finally { input.value = ""; }
    sluice.session = session;
    showSession();
    toast("Signed in as " + session.token.name);
    go(next);
  } },
    h("h1", {}, "Sign in"),
    s.token ? h("p", {}, "Signed in as ", h("strong", {}, s.token.name), ". Another token replaces it.") : null,
    field("Token", input), h("button", { type: "submit" }, "Sign in"), out,
    h("p", { class: "muted small", id: "signin-help" },
      "A token comes from an admin: ", h("code", {}, "sluice token create NAME --grant 'stream:*=read'"), " or this UI's Tokens page. ",
      "A new node's first admin token is printed once in its log, or is the value of ", h("code", {}, "SLUICE_ADMIN_TOKEN"), " it started with. ",
      "See docs/ACCESS.md. The token is kept in a cookie this page cannot read, until you sign out or close the browser."));
  main.append(form);
  input.focus();
};

// safeNext is where to go after signing in: a page of the UI (the one
// that asked for a token), or the streams.
function safeNext(next) {
  return next && next.startsWith("/ui/") && !next.startsWith("/ui/signin") ? next : "/ui/streams";
}

async function signOut() {
  try { await api("DELETE", "/v1/session", { signIn: false }); } catch (e) { toast(e.message, true); return; }
  sluice.session = { enabled: true };
  showSession();
  go("/ui/signin");
}

// signedOut reports whether the node wants a token and the page has none.
function signedOut() { return sluice.session.enabled && !sluice.session.token; }

// showSession puts the session in the header: the token's name and Sign
// out; the Tokens and Audit links where the node says the token may use
// them (GET /v1/session's may; with access control off, anyone may).
function showSession() {
  const s = sluice.session, t = s.token;
  document.querySelector("header.top nav").hidden = signedOut();
  const may = s.may || {};
  document.getElementById("nav-tokens").hidden = !(t && may.tokens);
  document.getElementById("nav-audit").hidden = s.enabled && !may.audit;
  const box = document.getElementById("session");
  box.hidden = !t;
  putChildren(box, t ? [h("span", { class: "muted" }, "signed in as "), h("strong", { class: "token-name", title: t.id }, t.name),
    h("button", { type: "button", class: "small sign-out", onclick: signOut }, "Sign out")] : null);
}
