// tables.js: temporal tables: a key's value at a time (a time field and a
// slider over the key's versions), its history as a timeline with what
// changed between versions, and every key's value at a time (with a page's
// title and image count when the values have them); a rebuild with its
// progress (operation.js).
"use strict";

sluice.pages.tables = async function (main) {
  const name = seg(3);
  if (!name) {
    let list = [];
    try { list = (await api("GET", "/v1/tables")).tables; } catch (e) { main.append(errorBox(e)); return; }
    main.append(h("h1", {}, "Tables"), list.length
      ? h("ul", { class: "links" }, list.map(t => h("li", {}, h("a", { href: "/ui/tables/" + encodeURIComponent(t) }, t))))
      : h("p", { class: "muted" }, "No tables. Declare them under tables: in sluice.yaml and write them from a pipeline."));
    if (list.length === 1) go("/ui/tables/" + encodeURIComponent(list[0]));
    return;
  }
  const key = h("input", { name: "key", value: params.get("key"), placeholder: "enwiki:25577439", spellcheck: "false", class: "wide" });
  const at = h("input", { name: "at", value: params.get("at"), placeholder: "now, or 2026-11-27T10:00:00Z", spellcheck: "false" });
  const picker = h("input", { type: "datetime-local", step: "1", "aria-label": "Pick a time (UTC)" });
  picker.addEventListener("change", () => { if (picker.value) { at.value = new Date(picker.value + "Z").toISOString(); lookup(); } });
  const result = h("div", { id: "table-result", "aria-live": "polite" });
  const slider = h("div", { class: "slider" });
  const timeline = h("div", { class: "timeline" });
  const keys = h("div");
  const form = h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); lookup(); } },
    field("Key", key), field("At (RFC 3339 or unix ms; empty: now)", at), field("Pick a time (UTC)", picker),
    h("button", { type: "submit" }, "Look up"), h("button", { type: "button", onclick: () => { at.value = ""; lookup(); } }, "Now"));
  // Rebuild: an operation of the pipeline that writes the table; it runs on
  // the server, its progress shows here, and lookups go on meanwhile.
  const rebuildBtn = h("button", { type: "button", class: "rebuild", onclick: rebuild }, "Rebuild");
  const ops = h("div", { class: "table-ops" },
    h("div", { class: "toolbar" }, rebuildBtn, h("small", { class: "muted" }, "Empties the table and writes it again from its pipeline's output stream: the same versions. The pipeline goes on meanwhile.")),
    opBox(null));
  main.append(h("div", { class: "head" }, h("h1", {}, name), h("a", { href: "/ui/tables", class: "muted" }, "all tables")), ops, form, result, slider, timeline,
    h("h2", {}, "Keys at this time"), keys, definitionHistory("tables", name));

  function track(op) {
    const busy = op && op.state === "running";
    rebuildBtn.disabled = busy;
    rebuildBtn.title = busy ? `${opTitle(op)} is running` : "";
    showOp(ops, op, (v) => {
      rebuildBtn.disabled = false;
      rebuildBtn.title = "";
      if (v.kind === "rebuild") {
        toast(`${name}: rebuild ${v.state}` + (v.state === "succeeded" ? `: ${fmtNum(v.progress.succeeded)} outputs written` : v.error ? ": " + v.error : ""), v.state !== "succeeded");
        versionsKey = "";
        lookup();
      }
    });
  }
  async function rebuild() {
    if (!confirm(`Rebuild ${name}? It is emptied and written again from its pipeline's output stream; until the rebuild ends, lookups see part of it.`)) return;
    try {
      const op = await api("POST", `/v1/tables/${encodeURIComponent(name)}/rebuild`);
      toast(`${name}: rebuild started`);
      track(op);
    } catch (e) { toast(e.message, true); }
  }
  // The last operation of the pipeline that writes the table (a rebuild,
  // or a redrive, during which a rebuild waits), if any.
  api("GET", "/v1/pipelines").then(r => {
    const p = r.pipelines.find(p => (p.to || []).includes("table:" + name));
    if (p && p.operation && (p.operation.table === name || p.operation.state === "running")) track(p.operation);
  }).catch(() => {});

  let versions = [], versionsKey = "";
  const path = (k) => `/v1/tables/${encodeURIComponent(name)}/keys/${encodeURIComponent(k)}`;

  async function lookup() {
    const k = key.value.trim(), t = at.value.trim();
    params.set({ key: k, at: t });
    listKeys();
    if (!k) { result.replaceChildren(h("p", { class: "muted" }, "Give a key, or pick one below.")); return; }
    try {
      const v = await api("GET", path(k) + (t ? "?at=" + encodeURIComponent(t) : ""));
      result.replaceChildren(versionCard(v, "Value at " + (t ? fmtTime(t) : "now")));
    } catch (e) {
      result.replaceChildren(e.status === 404 ? h("div", { class: "card notice" }, h("strong", {}, "No value at this time. "), e.message) : errorBox(e));
    }
    if (versionsKey !== k) {
      versionsKey = k;
      try { versions = (await api("GET", path(k) + "/history")).versions; } catch (e) { versions = []; }
      drawTimeline();
    }
    markCurrent();
  }

  function drawTimeline() {
    slider.replaceChildren();
    timeline.replaceChildren();
    if (!versions.length) return;
    const range = h("input", { type: "range", min: 0, max: versions.length - 1, step: 1, value: versions.length - 1, "aria-label": "Version", class: "wide" });
    const label = h("output", {});
    range.addEventListener("input", () => { const v = versions[range.value]; label.textContent = `version ${Number(range.value) + 1} of ${versions.length}: ${fmtTime(v.valid_from)}`; at.value = v.valid_from; lookup(); });
    slider.append(field("Move through the key's history", range), label);
    timeline.append(h("h2", {}, `History (${versions.length} version${versions.length > 1 ? "s" : ""})`),
      h("ol", { class: "versions" }, versions.map((v, i) => h("li", { "data-from": v.valid_from },
        h("button", { type: "button", class: "link", onclick: () => { at.value = v.valid_from; range.value = i; lookup(); } }, fmtTime(v.valid_from)),
        v.deleted ? h("span", { class: "badge bad" }, "deleted") : null,
        !v.deleted && summary(v.value).images !== undefined ? h("span", { class: "images small" }, " " + imagesText(summary(v.value).images)) : null,
        h("span", { class: "muted small" }, ` from ${v.source.stream} #${v.source.seq}`),
        changesList(i ? versions[i - 1] : null, v)))));
  }

  function markCurrent() {
    const t = at.value.trim() ? new Date(/^\d+$/.test(at.value.trim()) ? Number(at.value.trim()) : at.value.trim()) : new Date();
    let cur = -1;
    versions.forEach((v, i) => { if (new Date(v.valid_from) <= t) cur = i; });
    timeline.querySelectorAll("li[data-from]").forEach((li, i) => li.classList.toggle("current", i === cur));
  }

  async function listKeys() {
    const t = at.value.trim();
    const q = new URLSearchParams({ limit: "50" });
    if (t) q.set("at", t);
    const pre = key.value.trim().split(":")[0];
    if (pre && key.value.includes(":")) q.set("prefix", pre + ":");
    try {
      const page = await api("GET", `/v1/tables/${encodeURIComponent(name)}?` + q);
      // A page's title and image count, if the values have them (as
      // mediawiki.page_images's outputs do), beside the key.
      const titled = page.versions.some(v => summary(v.value).title !== undefined);
      const counted = page.versions.some(v => summary(v.value).images !== undefined);
      const cols = ["Key", titled && "Title", counted && "Images", "Valid from", "Value"].filter(Boolean);
      keys.replaceChildren(page.versions.length ? h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, cols.map(c => h("th", { scope: "col" }, c)))),
        h("tbody", {}, page.versions.map(v => {
          const s = summary(v.value);
          return h("tr", {},
            h("td", {}, h("button", { type: "button", class: "link", onclick: () => { key.value = v.key; lookup(); } }, v.key)),
            titled ? h("td", { class: "title" }, s.title ?? "") : null,
            counted ? h("td", { class: "images num" }, s.images === undefined ? "" : fmtNum(s.images)) : null,
            h("td", {}, fmtTime(v.valid_from)), h("td", {}, h("code", { class: "preview" }, preview(v.value, 100))));
        })))
        : h("p", { class: "muted" }, "No keys have a value at this time."));
    } catch (e) { keys.replaceChildren(errorBox(e)); }
  }
  lookup();
};

// summary is what a value says of a page: its title and how many images
// it shows (image_list), each undefined if the value does not say.
function summary(value) {
  const o = value && typeof value === "object" && !Array.isArray(value) ? value : {};
  return { title: typeof o.title === "string" ? o.title : undefined, images: Array.isArray(o.image_list) ? o.image_list.length : undefined };
}

// imagesText is e.g. "3 images".
function imagesText(n) { return `${fmtNum(n)} image${n === 1 ? "" : "s"}`; }

function versionCard(v, title) {
  const s = v.deleted ? {} : summary(v.value);
  return h("section", { class: "card version" }, h("h2", {}, title),
    kv([["key", h("code", {}, v.key)], ...(s.title !== undefined ? [["title", h("span", { class: "title" }, s.title)]] : []),
      ...(s.images !== undefined ? [["images", h("span", { class: "images" }, imagesText(s.images))]] : []),
      ["valid from", fmtTime(v.valid_from)], ["valid to", v.valid_to ? fmtTime(v.valid_to) : "now (current)"],
      ["written from", `${v.source.stream} #${v.source.seq}`]]),
    v.deleted ? h("p", { class: "warn" }, "Deleted at this time (a tombstone).") : jsonView(v.value));
}

// changesList says what changed from version a to b, e.g. the images
// added to and removed from a page.
function changesList(a, b) {
  if (!a) return h("div", { class: "changes muted small" }, "first version");
  if (b.deleted) return h("div", { class: "changes" }, "deleted");
  if (a.deleted) return h("div", { class: "changes" }, "created again");
  const ch = valueChanges(a.value, b.value).filter(c => !["/create_date_time", "/meta", "/event_time", "/rev_id"].some(p => c.path.startsWith(p)));
  if (!ch.length) return h("div", { class: "changes muted small" }, "no change in value");
  return h("ul", { class: "changes" }, ch.slice(0, 20).map(c => h("li", {}, h("code", {}, c.path || "/"), " ",
    c.added ? [c.added.map(x => h("span", { class: "add" }, "+ " + (typeof x === "string" ? x : JSON.stringify(x)))), c.removed.map(x => h("span", { class: "del" }, "− " + (typeof x === "string" ? x : JSON.stringify(x)))), c.reordered ? "reordered" : null]
      : [h("span", { class: "del" }, JSON.stringify(c.from)), " → ", h("span", { class: "add" }, JSON.stringify(c.to))])));
}
