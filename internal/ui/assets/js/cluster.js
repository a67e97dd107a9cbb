// cluster.js: the nodes that share the engine (GET /v1/cluster): each
// node's address, start, when it was last seen and what it runs, and what
// runs nowhere at the moment (moving to another node, or that no node can
// run). Refreshed every two seconds.
"use strict";

sluice.pages.cluster = async function (main) {
  const body = h("div", { id: "cluster" });
  main.append(h("h1", {}, "Cluster"),
    h("p", { class: "muted" }, "Each source, pipeline and files output runs on one node at a time; when a node stops or dies, another takes its work over within the lease time."),
    body);
  every(2000, async () => {
    let c;
    try { c = await api("GET", "/v1/cluster"); } catch (e) { putChildren(body, errorBox(e)); return; }
    putChildren(body, clusterView(c));
  });
};

function runLinks(runs) {
  const out = [];
  const add = (kind, names, href) => names.forEach(n => out.push(h("li", {}, h("span", { class: "badge" }, kind), " ", href ? h("a", { href: href(n) }, n) : n)));
  add("source", runs.sources, n => "/ui/sources#source-" + encodeURIComponent(n));
  add("pipeline", runs.pipelines, n => "/ui/pipelines#pipeline-" + encodeURIComponent(n));
  add("files", runs.files, null);
  return out.length ? h("ul", { class: "runs" }, out) : h("span", { class: "muted" }, "nothing");
}

function clusterView(c) {
  const now = Date.now();
  const rows = c.nodes.map(n => h("tr", { id: "node-" + n.name },
    h("th", { scope: "row" }, n.name, n.name === c.node ? h("span", { class: "badge" }, "this node") : null),
    h("td", {}, h("code", {}, n.addr)),
    h("td", {}, fmtTime(n.started)),
    h("td", {}, fmtAgo(Math.max(0, (now - Date.parse(n.last_seen)) / 1000))),
    h("td", {}, n.tables || ""),
    h("td", {}, runLinks(n.runs))));
  const waiting = [...c.waiting.sources, ...c.waiting.pipelines, ...c.waiting.files].length;
  return [
    h("p", {}, fmtNum(c.nodes.length), c.nodes.length === 1 ? " node" : " nodes", "; lease ", h("code", {}, c.lease_ttl), "."),
    h("div", { class: "scroll" }, h("table", { class: "grid", "aria-label": "Nodes" },
      h("thead", {}, h("tr", {}, ["Node", "Address", "Started", "Last seen", "Tables", "Runs"].map(x => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows))),
    waiting ? h("section", { class: "card", id: "waiting" }, h("h2", {}, "Running nowhere at the moment"),
      h("p", { class: "muted" }, "Moving to another node (within the lease), or no node can run them (see their status)."), runLinks(c.waiting)) : null,
  ];
}
