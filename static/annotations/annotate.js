// Claimbench annotation page: selection -> code-point offsets, hotkeys, linking,
// and an autosave queue that never drops an action silently.
//
// Offsets: every `.seg` element carries data-start, its code-point start in the
// document text. A browser selection point is converted inside its own segment
// only (UTF-16 units -> code points), never by counting the whole text here.
// Saving: actions queue up and go to the server one at a time, each naming the
// set version the previous answer returned. Network errors and 5xx are retried
// with backoff; a 409 stops the queue and shows a conflict banner that keeps the
// unsaved actions and can re-apply them after a reload.

performance.mark("annotate-start");
const data = JSON.parse(document.getElementById("annotate-data").textContent);
// The page ships spans and warnings compactly (annotate_views.document_annotate): fill them out
// to the shape the write answers use before anything reads them.
for (const span of data.spans) {
  span.attributes ??= {};
  span.note ??= "";
}
data.warnings = data.warnings.map(([kind, ...indexes]) => ({
  ...data.warningKinds[kind],
  spans: indexes.map((i) => data.spans[i].uuid),
}));
const docEl = document.getElementById("doc-text");
const statusEl = document.getElementById("save-status");
const bannerEl = document.getElementById("banner");
const pendingEl = document.getElementById("pending");
const inspectorEl = document.getElementById("inspector");
const warningsEl = document.getElementById("warnings");
const groupsEl = document.getElementById("span-groups");
const PENDING_KEY = `claimbench-pending-${data.setId}`;

const state = {
  version: data.version,
  spans: new Map(data.spans.map((s) => [s.uuid, s])),
  relations: new Map(data.relations.map((r) => [r.uuid, r])),
  selected: null,
  linking: false,
  queue: [],
  busy: false,
  attempt: 0,
  conflict: false,
  warnings: data.warnings,
};
const labelsByKey = new Map(data.labels.map((l) => [l.key, l]));
const labelsByHotkey = new Map(data.labels.filter((l) => l.hotkey).map((l) => [l.hotkey.toLowerCase(), l]));

// --- offsets -------------------------------------------------------------------------

/** Number of code points in a JS (UTF-16) string: a surrogate pair counts once. */
export function codePointLength(text) {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

function textNodes(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  return nodes;
}

/** Turn a DOM boundary point into a text node + UTF-16 offset inside it (or null). */
function normalisePoint(node, offset) {
  if (node.nodeType === Node.TEXT_NODE) return { node, offset };
  if (offset < node.childNodes.length) {
    const first = textNodes(node.childNodes[offset])[0];
    if (first) return { node: first, offset: 0 };
  }
  const before = document.createRange();
  before.setStart(node, 0);
  before.setEnd(node, offset);
  const nodes = textNodes(node).filter((t) => before.intersectsNode(t));
  const last = nodes[nodes.length - 1];
  return last ? { node: last, offset: last.length } : null;
}

/** Code-point offset of a DOM boundary point inside the document text, or null outside it. */
export function pointToCodePoint(node, offset) {
  const point = normalisePoint(node, offset);
  if (point === null) {
    const para = (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement)?.closest(".para");
    return para && docEl.contains(para) ? Number(para.dataset.start) : null;
  }
  const seg = point.node.parentElement?.closest(".seg");
  if (!seg || !docEl.contains(seg)) return null;
  let units = point.offset;
  for (const t of textNodes(seg)) {
    if (t === point.node) break;
    units += t.length;
  }
  return Number(seg.dataset.start) + codePointLength(seg.textContent.slice(0, units));
}

/** The current browser selection as {start, end, quote} in code points, or null. */
export function selectionOffsets() {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed || selection.rangeCount === 0) return null;
  const range = selection.getRangeAt(0);
  if (!docEl.contains(range.commonAncestorContainer) && range.commonAncestorContainer !== docEl) return null;
  const start = pointToCodePoint(range.startContainer, range.startOffset);
  const end = pointToCodePoint(range.endContainer, range.endOffset);
  if (start === null || end === null || end <= start) return null;
  const paraOf = (n) => (n.nodeType === Node.ELEMENT_NODE ? n : n.parentElement).closest(".para");
  const firstPara = paraOf(range.startContainer);
  const lastPara = paraOf(range.endContainer);
  let quote;
  if (!firstPara || !lastPara || firstPara === lastPara) {
    quote = range.toString();
  } else {
    // Paragraphs are separated by exactly one "\n" in the text; the DOM has none.
    const paras = [...docEl.querySelectorAll(".para")];
    const parts = paras.slice(paras.indexOf(firstPara), paras.indexOf(lastPara) + 1).map((p) => {
      const r = document.createRange();
      r.selectNodeContents(p);
      if (p === firstPara) r.setStart(range.startContainer, range.startOffset);
      if (p === lastPara) r.setEnd(range.endContainer, range.endOffset);
      return r.toString();
    });
    quote = parts.join("\n");
  }
  return { start, end, quote };
}

// --- small helpers -------------------------------------------------------------------------

function uuid4() {
  // crypto.randomUUID needs a secure context; getRandomValues works everywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
  } catch {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function shorten(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function urlFor(name, id) {
  return data.urls[name].replace(data.urls.placeholder, id);
}

function marksOf(uuid) {
  return docEl.querySelectorAll(`.mark[data-span="${uuid}"]`);
}

function linksOf(uuid) {
  return [...state.relations.values()].filter((r) => r.source === uuid || r.target === uuid);
}

function byReadingOrder(a, b) {
  return a.start - b.start || b.end - a.end || (a.uuid < b.uuid ? -1 : 1);
}

// --- saving ----------------------------------------------------------------------------------

function setStatus(kind, message) {
  statusEl.dataset.state = kind;
  statusEl.textContent = message;
}

function enqueue(op) {
  if (!data.canEdit) return;
  state.queue.push(op);
  renderPending();
  pump();
}

function renderPending() {
  pendingEl.replaceChildren(
    ...state.queue.map((op, i) =>
      el("li", { class: i === 0 && state.attempt > 0 ? "failed" : "" }, `Unsaved: ${op.describe}`),
    ),
  );
  pendingEl.hidden = state.queue.length === 0;
}

async function pump() {
  if (state.busy || state.conflict || state.queue.length === 0) return;
  state.busy = true;
  const op = state.queue[0];
  setStatus("saving", state.queue.length > 1 ? `Saving… (${state.queue.length} changes)` : "Saving…");
  let response;
  let payload = null;
  try {
    response = await fetch(op.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify({ ...op.body, expected_version: state.version }),
    });
    payload = await response.json().catch(() => null);
    if (response.status >= 500 || payload === null) {
      // A 503 from the server says why (e.g. the database is restarting); show that, not just the code.
      throw new Error(payload?.message ? shorten(payload.message, 80) : `the server answered ${response.status}`);
    }
  } catch (error) {
    state.busy = false;
    state.attempt += 1;
    const delay = Math.min(500 * 2 ** (state.attempt - 1), 15000);
    setStatus("failed", `Save failed (${error.message}); retrying in ${Math.ceil(delay / 1000)} s`);
    renderPending();
    setTimeout(pump, delay);
    return;
  }
  state.busy = false;
  state.attempt = 0;
  if (response.ok) {
    state.queue.shift();
    applyChanges(payload);
    op.onSaved?.(payload);
  } else if (response.status === 409) {
    showConflict(payload);
    renderPending();
    return;
  } else {
    // 400/403/404 will not get better by retrying: drop the action and say why.
    state.queue.shift();
    if (op.onRefused?.(payload) !== true) showMessage(payload.message || `Refused (${response.status})`);
  }
  renderPending();
  if (state.queue.length === 0) setStatus("saved", "All changes saved");
  pump();
}

function showMessage(message, kind = "error") {
  bannerEl.className = `banner ${kind}`;
  bannerEl.replaceChildren(el("span", { text: message }), el("button", { type: "button", class: "link-button", "data-dismiss": "" }, "Dismiss"));
  bannerEl.hidden = false;
}

function showConflict(payload) {
  state.conflict = true;
  setStatus("conflict", "Not saved: conflict");
  const count = state.queue.length;
  bannerEl.className = "banner conflict";
  bannerEl.replaceChildren(
    el("strong", { text: "This set was changed in another tab or by someone else. " }),
    el("span", { text: `${payload.message} ` }),
    el("span", { text: `Your ${count} unsaved change${count === 1 ? " is" : "s are"} kept below. ` }),
    el("button", { type: "button", class: "primary", id: "conflict-reload-apply" }, `Reload and re-apply my ${count} change${count === 1 ? "" : "s"}`),
    " ",
    el("button", { type: "button", class: "tool-button", id: "conflict-reload" }, "Reload without them"),
  );
  bannerEl.hidden = false;
}

function reload(keepPending) {
  if (keepPending && state.queue.length) {
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(state.queue.map(({ url, body, describe }) => ({ url, body, describe }))));
  }
  state.queue = [];
  window.location.reload();
}

function offerStoredPending() {
  const stored = sessionStorage.getItem(PENDING_KEY);
  if (!stored) return;
  const ops = JSON.parse(stored);
  if (!Array.isArray(ops) || ops.length === 0) return;
  bannerEl.className = "banner info";
  bannerEl.replaceChildren(
    el("span", { text: `${ops.length} unsaved change${ops.length === 1 ? "" : "s"} from before the reload: ${ops.map((o) => o.describe).join("; ")}. ` }),
    el("button", { type: "button", class: "primary", id: "pending-apply" }, "Apply them now"),
    " ",
    el("button", { type: "button", class: "tool-button", id: "pending-discard" }, "Discard"),
  );
  bannerEl.hidden = false;
  bannerEl.querySelector("#pending-apply").addEventListener("click", () => {
    sessionStorage.removeItem(PENDING_KEY);
    bannerEl.hidden = true;
    for (const op of ops) enqueue(op);
  });
  bannerEl.querySelector("#pending-discard").addEventListener("click", () => {
    sessionStorage.removeItem(PENDING_KEY);
    bannerEl.hidden = true;
  });
}

// --- applying what the server says changed -----------------------------------------------------

function applyChanges(payload) {
  state.version = payload.version;
  const touched = new Set();
  for (const uuid of payload.removedSpans || []) {
    state.spans.delete(uuid);
    touched.add(uuid);
    for (const r of linksOf(uuid)) state.relations.delete(r.uuid);
    if (state.selected === uuid) state.selected = null;
  }
  for (const span of payload.spans || []) {
    state.spans.set(span.uuid, span);
    touched.add(span.uuid);
  }
  for (const uuid of payload.removedRelations || []) {
    const relation = state.relations.get(uuid);
    if (relation) touched.add(relation.source).add(relation.target);
    state.relations.delete(uuid);
  }
  for (const relation of payload.relations || []) {
    state.relations.set(relation.uuid, relation);
    touched.add(relation.source).add(relation.target);
  }
  for (const fragment of payload.paragraphs || []) replaceParagraphs(fragment.html);
  for (const uuid of touched) renderSidebarItem(uuid);
  renderCounts();
  if (payload.warningScope) {
    // The server re-checked only the spans around the change; keep everyone else's warnings.
    const scope = new Set(payload.warningScope);
    state.warnings = state.warnings.filter((w) => !w.spans.some((u) => scope.has(u))).concat(payload.warnings || []);
    state.warnings.sort((a, b) => (state.spans.get(a.spans[0])?.start ?? 0) - (state.spans.get(b.spans[0])?.start ?? 0));
    renderWarnings(state.warnings);
  }
  highlightSelected();
  renderInspector();
}

function replaceParagraphs(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const fresh of [...template.content.children]) {
    const old = docEl.querySelector(`.para[data-start="${fresh.dataset.start}"]`);
    if (old) old.replaceWith(fresh);
  }
}

// --- sidebar -------------------------------------------------------------------------------------

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The sidebar item of a span as HTML, every stored string escaped; the same markup as sidebarItem. */
function sidebarItemHtml(span, links) {
  let html = `<li class="span-item${span.uuid === state.selected ? " selected" : ""}" tabindex="0" data-span="${escapeHtml(span.uuid)}"><q>${escapeHtml(shorten(span.quote, 140))}</q>`;
  const attributes = Object.entries(span.attributes || {});
  if (attributes.length) html += `<p class="attrs">${escapeHtml(attributes.map(([k, v]) => `${k}: ${v}`).join(" · "))}</p>`;
  if (links.length) {
    html += '<ul class="links">';
    for (const r of links) {
      const outgoing = r.source === span.uuid;
      const other = state.spans.get(outgoing ? r.target : r.source);
      html += `<li>${escapeHtml(outgoing ? `${r.type} → ` : `← ${r.type} `)}<q>${escapeHtml(shorten(other ? other.quote : "?", 50))}</q></li>`;
    }
    html += "</ul>";
  }
  if (span.note) html += `<p class="note">${escapeHtml(span.note)}</p>`;
  return `${html}</li>`;
}

function renderGroups() {
  // One innerHTML for the whole list: a thousand spans as nodes one by one cost the page its load budget.
  const linksBySpan = new Map();
  for (const r of state.relations.values()) {
    for (const uuid of new Set([r.source, r.target])) {
      if (!linksBySpan.has(uuid)) linksBySpan.set(uuid, []);
      linksBySpan.get(uuid).push(r);
    }
  }
  const items = new Map(data.labels.map((label) => [label.key, []]));
  for (const span of [...state.spans.values()].sort(byReadingOrder)) {
    items.get(span.label)?.push(sidebarItemHtml(span, linksBySpan.get(span.uuid) || []));
  }
  groupsEl.innerHTML = data.labels
    .map(
      (label) =>
        `<section class="span-group" data-label="${escapeHtml(label.key)}"><h3><span class="label-chip lab-${escapeHtml(label.index)}">${escapeHtml(label.name)}</span> <span class="muted count"></span></h3>` +
        `<ol class="span-items">${items.get(label.key).join("")}</ol></section>`,
    )
    .join("");
  renderCounts();
}

function renderCounts() {
  for (const section of groupsEl.children) {
    const n = section.querySelector("ol").children.length;
    section.querySelector(".count").textContent = `(${n})`;
  }
  document.getElementById("span-count").textContent = `(${state.spans.size})`;
}

function sidebarItem(span) {
  const item = el("li", { class: "span-item", tabindex: "0", dataset: { span: span.uuid } }, el("q", { text: shorten(span.quote, 140) }));
  const attributes = Object.entries(span.attributes || {});
  if (attributes.length) {
    item.append(el("p", { class: "attrs", text: attributes.map(([k, v]) => `${k}: ${v}`).join(" · ") }));
  }
  const links = linksOf(span.uuid);
  if (links.length) {
    const list = el("ul", { class: "links" });
    for (const r of links) {
      const outgoing = r.source === span.uuid;
      const other = state.spans.get(outgoing ? r.target : r.source);
      list.append(el("li", {}, outgoing ? `${r.type} → ` : `← ${r.type} `, el("q", { text: shorten(other ? other.quote : "?", 50) })));
    }
    item.append(list);
  }
  if (span.note) item.append(el("p", { class: "note", text: span.note }));
  if (span.uuid === state.selected) item.classList.add("selected");
  return item;
}

function renderSidebarItem(uuid) {
  const old = groupsEl.querySelector(`li.span-item[data-span="${uuid}"]`);
  const span = state.spans.get(uuid);
  if (!span) {
    old?.remove();
    return;
  }
  const fresh = sidebarItem(span);
  const list = groupsEl.querySelector(`.span-group[data-label="${CSS.escape(span.label)}"] ol`);
  if (!list) return;
  if (old && old.parentElement === list) {
    old.remove();
  } else {
    old?.remove();
  }
  const after = [...list.children].find((li) => {
    const other = state.spans.get(li.dataset.span);
    return other && byReadingOrder(span, other) < 0;
  });
  list.insertBefore(fresh, after || null);
}

function renderWarnings(warnings) {
  if (!warnings.length) {
    warningsEl.replaceChildren(el("p", { class: "ok-note", text: "All submit checks pass." }));
    return;
  }
  // One innerHTML, every stored string escaped: hundreds of warnings on a long article.
  const list = el("ul", { class: "warning-list" });
  list.innerHTML = warnings
    .map((w) => {
      const span = state.spans.get(w.spans[0]);
      const quote = span ? ` <q>${escapeHtml(shorten(span.quote, 60))}</q>` : "";
      return `<li tabindex="0" data-span="${escapeHtml(w.spans[0] || "")}">${escapeHtml(w.message)}${quote}</li>`;
    })
    .join("");
  // A long list would push the spans out of sight: fold it past a handful.
  const details = el("details", { open: warnings.length <= 5 },
    el("summary", {}, el("strong", { text: "Submit checks " }), el("span", { class: "muted", text: `(${warnings.length})` })), list);
  warningsEl.replaceChildren(details);
}

// --- selecting, inspecting ---------------------------------------------------------------------

function select(uuid, { scroll = false } = {}) {
  state.selected = uuid && state.spans.has(uuid) ? uuid : null;
  highlightSelected();
  renderInspector();
  if (scroll && state.selected) marksOf(state.selected)[0]?.scrollIntoView({ block: "center", behavior: "instant" });
}

function highlightSelected() {
  for (const node of document.querySelectorAll(".selected[data-span]")) node.classList.remove("selected");
  if (!state.selected) return;
  for (const node of marksOf(state.selected)) node.classList.add("selected");
  groupsEl.querySelector(`li.span-item[data-span="${state.selected}"]`)?.classList.add("selected");
}

function setHover(uuid) {
  for (const node of docEl.querySelectorAll(".mark.hover, .mark.linked")) node.classList.remove("hover", "linked");
  if (!uuid) return;
  for (const node of marksOf(uuid)) node.classList.add("hover");
  for (const r of linksOf(uuid)) {
    for (const node of marksOf(r.source === uuid ? r.target : r.source)) node.classList.add("linked");
  }
}

function renderInspector() {
  const span = state.spans.get(state.selected);
  if (!span) {
    inspectorEl.hidden = true;
    inspectorEl.replaceChildren();
    return;
  }
  const label = labelsByKey.get(span.label);
  const disabled = !data.canEdit;
  const children = [
    el("h2", {}, el("span", { class: `label-chip lab-${label ? label.index : "x"}`, text: label ? label.name : span.label }), " selected"),
    el("q", { class: "inspector-quote", text: shorten(span.quote, 300) }),
  ];
  if (state.linking) children.push(el("p", { class: "linking-hint", text: "Linking: click the span this one sources or disputes (Esc to cancel)." }));
  const relabel = el("div", { class: "relabel", role: "group", "aria-label": "Relabel" });
  for (const l of data.labels) {
    relabel.append(el("button", { type: "button", class: `small-button${l.key === span.label ? " current" : ""}`, "data-relabel": l.key, disabled }, l.name));
  }
  children.push(relabel);
  const edges = el("div", { class: "edges", role: "group", "aria-label": "Move edges" },
    el("button", { type: "button", class: "small-button", "data-nudge": "start:-1", disabled, title: "Alt+Shift+←" }, "◀ start"),
    el("button", { type: "button", class: "small-button", "data-nudge": "start:1", disabled, title: "Alt+Shift+→" }, "start ▶"),
    el("button", { type: "button", class: "small-button", "data-nudge": "end:-1", disabled, title: "Shift+←" }, "◀ end"),
    el("button", { type: "button", class: "small-button", "data-nudge": "end:1", disabled, title: "Shift+→" }, "end ▶"),
  );
  children.push(edges);
  const form = el("div", { class: "attr-form" });
  for (const def of data.attributes[span.label] || []) {
    const id = `attr-${def.key}`;
    const value = span.attributes?.[def.key];
    let input;
    if (def.type === "choice") {
      input = el("select", { id, "data-attr": def.key, disabled }, el("option", { value: "" }, "—"));
      for (const v of def.values) input.append(el("option", { value: v, selected: v === value }, v.replaceAll("_", " ")));
    } else if (def.type === "boolean") {
      input = el("select", { id, "data-attr": def.key, "data-type": "boolean", disabled },
        el("option", { value: "" }, "—"),
        el("option", { value: "true", selected: value === true }, "yes"),
        el("option", { value: "false", selected: value === false }, "no"));
    } else {
      input = el("input", { id, type: "text", "data-attr": def.key, value: value ?? "", disabled, maxlength: "2000" });
    }
    form.append(el("label", { for: id, text: def.name + (def.required ? " *" : "") }), input);
  }
  form.append(el("label", { for: "span-note", text: "Note" }), el("textarea", { id: "span-note", rows: "2", "data-note": "", disabled }));
  children.push(form);
  const links = linksOf(span.uuid);
  if (links.length) {
    const list = el("ul", { class: "links" });
    for (const r of links) {
      const outgoing = r.source === span.uuid;
      const other = state.spans.get(outgoing ? r.target : r.source);
      list.append(el("li", {}, outgoing ? `${r.type} → ` : `← ${r.type} `, el("q", { text: shorten(other ? other.quote : "?", 60) }), " ",
        el("button", { type: "button", class: "small-button", "data-unlink": r.uuid, disabled, "aria-label": `Remove ${r.type} link` }, "Remove")));
    }
    children.push(el("h3", { text: "Links" }), list);
  }
  children.push(el("div", { class: "inspector-actions" },
    el("button", { type: "button", class: "small-button", "data-action": "link", disabled }, "Link (L)"),
    el("button", { type: "button", class: "small-button danger", "data-action": "delete", disabled }, "Delete (Del)")));
  inspectorEl.replaceChildren(...children);
  inspectorEl.querySelector("#span-note").value = span.note || "";
  inspectorEl.hidden = false;
}

// --- actions -------------------------------------------------------------------------------------

function describeSpan(span) {
  return span ? `${span.label} «${shorten(span.quote, 40)}»` : "a span";
}

function createSpan(labelKey) {
  const selected = selectionOffsets();
  if (!selected) return false;
  const uuid = uuid4();
  window.getSelection().removeAllRanges();
  enqueue({
    url: data.urls.spanCreate,
    body: { uuid, label: labelKey, ...selected },
    describe: `new ${labelKey} «${shorten(selected.quote, 40)}»`,
    onSaved: () => select(uuid),
  });
  return true;
}

function updateSelected(changes, describe) {
  const span = state.spans.get(state.selected);
  if (!span) return;
  enqueue({ url: urlFor("spanUpdate", span.uuid), body: changes, describe: `${describe} on ${describeSpan(span)}` });
}

function deleteSelected() {
  const span = state.spans.get(state.selected);
  if (!span) return;
  enqueue({ url: urlFor("spanDelete", span.uuid), body: {}, describe: `delete ${describeSpan(span)}` });
}

// --- selecting text with the keyboard ---------------------------------------------------------
// With the article focused (Tab to it, or click it), ← / → select the previous / next word as an
// ordinary browser selection, so everything that works with a mouse selection works with it:
// Shift+→ / Shift+← then extend or shrink it by a character, Ctrl+Shift+→ / ← by a word (the
// browser's own behaviour on a selection), and a label key marks it. Word steps use the browser's
// own word breaking (Selection.modify), so Cyrillic, guillemets and emoji behave as with a
// double-click.

/** A collapsed point to step from: the current text selection, the selected span, or the first visible word. */
function keyboardStartPoint(direction) {
  const selection = window.getSelection();
  if (selection.rangeCount && docEl.contains(selection.anchorNode)) {
    const range = selection.getRangeAt(0);
    return direction === "forward"
      ? { node: range.endContainer, offset: range.endOffset }
      : { node: range.startContainer, offset: range.startOffset };
  }
  const marks = state.selected ? marksOf(state.selected) : [];
  if (marks.length) {
    const range = document.createRange();
    range.selectNodeContents(direction === "forward" ? marks[marks.length - 1] : marks[0]);
    return direction === "forward"
      ? { node: range.endContainer, offset: range.endOffset }
      : { node: range.startContainer, offset: range.startOffset };
  }
  const box = docEl.getBoundingClientRect();
  const top = Math.min(Math.max(box.top + 4, 4), window.innerHeight - 4);
  const caret = document.caretRangeFromPoint?.(box.left + 2, top);
  if (caret && docEl.contains(caret.startContainer)) return { node: caret.startContainer, offset: caret.startOffset };
  const first = textNodes(docEl)[0];
  return first ? { node: first, offset: 0 } : null;
}

/** Select the next (forward) or previous (backward) word of the article; true when it did. */
function selectWordByKeyboard(direction) {
  const point = keyboardStartPoint(direction);
  if (!point) return false;
  const selection = window.getSelection();
  selection.collapse(point.node, point.offset);
  const back = direction === "forward" ? "backward" : "forward";
  // Move past the next word, then reach back to its other edge: the selection is that word alone.
  selection.modify("move", direction, "word");
  selection.modify("extend", back, "word");
  if (selection.isCollapsed || !docEl.contains(selection.anchorNode)) return false;
  const range = selection.getRangeAt(0);
  // Anchor at the start, focus at the end, so Shift+→ grows the selection to the right.
  selection.setBaseAndExtent(range.startContainer, range.startOffset, range.endContainer, range.endOffset);
  const element = range.startContainer.nodeType === Node.TEXT_NODE ? range.startContainer.parentElement : range.startContainer;
  element?.scrollIntoView({ block: "nearest", behavior: "instant" });
  return true;
}

function startLinking() {
  if (!state.selected) {
    showMessage("Select a span first (click it), then press L and click the span to link to.", "info");
    return;
  }
  state.linking = true;
  document.body.classList.add("linking");
  renderInspector();
}

function stopLinking() {
  state.linking = false;
  document.body.classList.remove("linking");
  renderInspector();
}

function link(targetUuid) {
  const source = state.spans.get(state.selected);
  const target = state.spans.get(targetUuid);
  stopLinking();
  if (!source || !target || source.uuid === target.uuid) return;
  enqueue({ url: data.urls.relationCreate, body: { source: source.uuid, target: target.uuid }, describe: `link ${describeSpan(source)} → ${describeSpan(target)}` });
}

function undo() {
  enqueue({
    url: data.urls.undo,
    body: {},
    describe: "undo",
    onRefused: (payload) => {
      if (payload?.code === "nothing_to_undo") {
        showMessage(payload.message, "info");
        return true;
      }
      return false;
    },
  });
}

function submit(note = "") {
  enqueue({
    url: data.urls.submit,
    body: { note },
    describe: "submit",
    onSaved: (payload) => {
      window.location.assign(payload.next);
    },
    onRefused: (payload) => {
      if (payload?.code === "submit_warnings") {
        openSubmitDialog(payload.warnings);
        return true;
      }
      return false;
    },
  });
}

function openSubmitDialog(warnings) {
  const list = document.getElementById("submit-warnings");
  list.replaceChildren(...warnings.map((w) => {
    const span = state.spans.get(w.spans[0]);
    return el("li", {}, w.message, span ? el("q", { text: ` ${shorten(span.quote, 60)}` }) : null);
  }));
  document.getElementById("submit-dialog").showModal();
}

// --- events -----------------------------------------------------------------------------------

function markAt(event) {
  return event.target.closest?.(".mark");
}

docEl.addEventListener("click", (event) => {
  const mark = markAt(event);
  const selection = window.getSelection();
  if (selection && !selection.isCollapsed) return; // the analyst is selecting text, not clicking a span
  if (!mark) {
    if (!state.linking) select(null);
    return;
  }
  if (state.linking) {
    link(mark.dataset.span);
    return;
  }
  // Clicking again where spans are nested walks outwards through them.
  const stack = [];
  for (let node = mark; node && node !== docEl; node = node.parentElement) {
    if (node.classList.contains("mark")) stack.push(node.dataset.span);
  }
  const at = stack.indexOf(state.selected);
  select(at === -1 ? stack[0] : stack[(at + 1) % stack.length]);
});

docEl.addEventListener("mouseover", (event) => setHover(markAt(event)?.dataset.span || null));
docEl.addEventListener("mouseleave", () => setHover(null));

groupsEl.addEventListener("click", (event) => {
  const item = event.target.closest("li.span-item");
  if (item) select(item.dataset.span, { scroll: true });
});
for (const container of [groupsEl, warningsEl]) {
  container.addEventListener("keydown", (event) => {
    const item = event.target.closest("li[data-span]");
    if (item && event.key === "Enter") select(item.dataset.span, { scroll: true });
  });
}
warningsEl.addEventListener("click", (event) => {
  const item = event.target.closest("li[data-span]");
  if (item?.dataset.span) select(item.dataset.span, { scroll: true });
});
groupsEl.addEventListener("mouseover", (event) => setHover(event.target.closest("li.span-item")?.dataset.span || null));

document.querySelector(".toolbar").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.label) {
    if (!createSpan(button.dataset.label) && state.selected) updateSelected({ label: button.dataset.label }, `relabel as ${button.dataset.label}`);
  } else if (button.dataset.action) runAction(button.dataset.action);
});

function runAction(action) {
  if (action === "link") startLinking();
  else if (action === "delete") deleteSelected();
  else if (action === "undo") undo();
}

inspectorEl.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.relabel) updateSelected({ label: button.dataset.relabel }, `relabel as ${button.dataset.relabel}`);
  else if (button.dataset.nudge) {
    const [edge, direction] = button.dataset.nudge.split(":");
    updateSelected({ nudge: { edge, direction: Number(direction), by_word: true } }, `move ${edge}`);
  } else if (button.dataset.unlink) {
    enqueue({ url: urlFor("relationDelete", button.dataset.unlink), body: {}, describe: "remove link" });
  } else if (button.dataset.action) runAction(button.dataset.action);
});

inspectorEl.addEventListener("change", (event) => {
  const span = state.spans.get(state.selected);
  const input = event.target;
  if (!span) return;
  if (input.dataset.attr) {
    let value = input.value;
    if (input.dataset.type === "boolean") value = value === "" ? "" : value === "true";
    const attributes = { ...span.attributes, [input.dataset.attr]: value };
    if (value === "") delete attributes[input.dataset.attr];
    updateSelected({ attributes }, `set ${input.dataset.attr}`);
  } else if (input.dataset.note !== undefined) {
    updateSelected({ note: input.value }, "edit note");
  }
});

bannerEl.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.id === "conflict-reload-apply") reload(true);
  else if (button.id === "conflict-reload") reload(false);
  else if (button.dataset.dismiss !== undefined) bannerEl.hidden = true;
});

document.getElementById("help-button").addEventListener("click", () => document.getElementById("help-dialog").showModal());
document.getElementById("submit-button")?.addEventListener("click", () => submit());
document.getElementById("submit-anyway").addEventListener("click", () => {
  const note = document.getElementById("submit-note").value.trim();
  if (!note) {
    document.getElementById("submit-note").focus();
    return;
  }
  document.getElementById("submit-dialog").close();
  submit(note);
});
document.getElementById("submit-cancel").addEventListener("click", () => document.getElementById("submit-dialog").close());

function typing(target) {
  return target.closest?.("input, textarea, select, dialog[open]") !== null;
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
    if (state.linking) stopLinking();
    else select(null);
    return;
  }
  if (typing(event.target) || event.isComposing) return;
  const key = event.key;
  if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") {
    event.preventDefault();
    if (data.canEdit) undo();
    return;
  }
  if (event.ctrlKey || event.metaKey) return;
  if (key === "?") {
    event.preventDefault();
    document.getElementById("help-dialog").showModal();
    return;
  }
  if (!data.canEdit) return;
  if (!event.shiftKey && !event.altKey && (key === "ArrowLeft" || key === "ArrowRight") && docEl.contains(document.activeElement)) {
    if (selectWordByKeyboard(key === "ArrowRight" ? "forward" : "backward")) event.preventDefault();
    return;
  }
  if (event.shiftKey && (key === "ArrowLeft" || key === "ArrowRight") && state.selected) {
    const hasTextSelection = !window.getSelection().isCollapsed;
    if (hasTextSelection) return; // extending a keyboard selection: the browser's job
    event.preventDefault();
    const edge = event.altKey ? "start" : "end";
    updateSelected({ nudge: { edge, direction: key === "ArrowLeft" ? -1 : 1, by_word: true } }, `move ${edge}`);
    return;
  }
  if (event.altKey) return;
  if (key === "Delete" || key === "Backspace") {
    if (state.selected) {
      event.preventDefault();
      deleteSelected();
    }
    return;
  }
  if (key.toLowerCase() === "l") {
    event.preventDefault();
    startLinking();
    return;
  }
  const label = labelsByHotkey.get(key.toLowerCase());
  if (label) {
    event.preventDefault();
    if (!createSpan(label.key) && state.selected) updateSelected({ label: label.key }, `relabel as ${label.key}`);
  }
});

window.addEventListener("beforeunload", (event) => {
  if (state.queue.length) event.preventDefault();
});

// --- start ------------------------------------------------------------------------------------

renderGroups();
renderWarnings(data.warnings);
offerStoredPending();
if (!data.canEdit) setStatus("read-only", "Read-only");
document.body.dataset.annotateReady = "1";
// For bench/annotate_bench.py: when the page became usable, and the first frame drawn after that.
performance.mark("annotate-ready");
requestAnimationFrame(() => setTimeout(() => performance.mark("annotate-drawn"), 0));
