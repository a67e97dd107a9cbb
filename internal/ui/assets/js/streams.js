// streams.js: the list of streams, and creating one from a schema file.
"use strict";

sluice.pages.streams = async function (main) {
  const tbody = h("tbody");
  const table = h("table", { class: "grid", "aria-label": "Streams" },
    h("thead", {}, h("tr", {}, ["Stream", "Schema", "Events", "Size", "Rate (1 min)", "Last event time"].map(c => h("th", { scope: "col" }, c)))), tbody);
  main.append(h("div", { class: "head" }, h("h1", {}, "Streams"), h("span", { class: "muted", id: "streams-updated" })),
    h("div", { class: "scroll" }, table), createForm());
  every(3000, async () => {
    let list;
    try { list = (await api("GET", "/v1/streams")).streams; } catch (e) { tbody.replaceChildren(h("tr", {}, h("td", { colspan: 6 }, errorBox(e)))); return; }
    list.sort((a, b) => a.name.localeCompare(b.name));
    tbody.replaceChildren(...list.map(s => h("tr", { "data-stream": s.name },
      h("td", {}, h("a", { href: "/ui/streams/" + encodeURIComponent(s.name) }, s.name)),
      h("td", {}, "v" + s.version),
      h("td", { class: "num" }, fmtNum(s.messages)),
      h("td", { class: "num" }, fmtBytes(s.bytes)),
      h("td", { class: "num" }, fmtRate(s.rate_per_s)),
      h("td", {}, fmtTime(s.last_time)))));
    if (!list.length) tbody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No streams yet: create one below, or declare them in sluice.yaml.")));
    document.getElementById("streams-updated").textContent = "updated " + new Date().toLocaleTimeString();
  });
};

// createForm creates a stream from a JSON Schema file (or pasted text).
function createForm() {
  const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{0,127}", placeholder: "team.events", autocomplete: "off" });
  const file = h("input", { type: "file", accept: ".json,application/json" });
  const schema = h("textarea", { rows: 6, placeholder: '{"type": "object", "required": ["meta"], ...}' });
  const id = h("input", { placeholder: "/meta/id" });
  const time = h("input", { placeholder: "/meta/dt" });
  const key = h("input", { placeholder: "/wiki, /title" });
  const out = h("div");
  file.addEventListener("change", async () => { if (file.files[0]) schema.value = await file.files[0].text(); });
  const form = h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    let doc;
    try { doc = JSON.parse(schema.value); } catch (e) { out.append(errorBox("The schema is not JSON: " + e.message)); return; }
    const body = { name: name.value.trim(), schema: doc };
    if (id.value.trim()) body.id = id.value.trim();
    if (time.value.trim()) body.time = time.value.trim();
    if (key.value.trim()) body.key = key.value.split(",").map(s => s.trim()).filter(Boolean);
    try {
      await api("POST", "/v1/streams", { body });
      toast("Stream " + body.name + " created");
      go("/ui/streams/" + encodeURIComponent(body.name));
    } catch (e) { out.append(errorBox(e)); }
  } },
    h("h2", {}, "Create a stream"),
    h("div", { class: "row" }, field("Name", name), field("Id pointer (de-duplication)", id), field("Time pointer", time), field("Key pointers", key, "comma-separated JSON pointers")),
    field("Schema file", file), field("JSON Schema", schema),
    h("button", { type: "submit" }, "Create"), out);
  return form;
}
