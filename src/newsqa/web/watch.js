// Watched questions: a "Watch this question" button under each answer, the "Watching" list
// (unread marks, each watch's notices with their cited articles, a remove button), kept up to
// date live from /api/watches/events. Article text is only ever inserted as text nodes.
//
// Watches belong to this browser (or to the API key, when the server has one): a random client
// id, made once and kept in localStorage, goes as the X-Newsqa-Client header with every
// /api/watches request, and as the newsqa_client cookie for the event stream.
"use strict";

window.NewsqaWatch = (() => {
  const { el, segmentNode, byArticle, citationCard } = window.NewsqaCards;
  const $ = (sel) => document.querySelector(sel);
  const CLIENT_KEY = "newsqa-client";
  const KINDS = { first: "Now answered", new: "New in the archive", withdrawn: "Source withdrawn" };
  const state = {
    watches: [], // the list, oldest first (GET /api/watches)
    items: new Map(), // watch id → its list item's parts
    open: null, // id of the watch whose notices are shown
    loaded: false, // the list came from the server at least once
    refreshing: null, // the refresh under way (one at a time; one more may be queued)
    again: false,
  };
  const baseTitle = document.title;

  function clientId() {
    let id = null;
    try {
      id = localStorage.getItem(CLIENT_KEY);
    } catch {
      // storage off: a fresh id for this page
    }
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      const bytes = crypto.getRandomValues(new Uint8Array(24));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      try {
        localStorage.setItem(CLIENT_KEY, id);
      } catch {
        // kept for this page only
      }
    }
    return id;
  }
  const CLIENT = clientId();
  document.cookie = `newsqa_client=${CLIENT}; path=/; max-age=31536000; SameSite=Strict`;

  function request(path, options = {}) {
    const headers = Object.assign({ "X-Newsqa-Client": CLIENT }, options.headers || {});
    return window.NewsqaChat.api(path, Object.assign({}, options, { headers }));
  }

  const wid = (id) => encodeURIComponent(id);

  // A watch's question and filters as one string: which answer buttons it belongs to.
  function keyOf(question, f) {
    f = f || {};
    return [question, f.since || "", f.until || "", (f.sources || []).join(",")].join("\n");
  }

  function filterText(f) {
    const bits = [];
    if (f && (f.since || f.until)) bits.push(`${f.since || "…"} – ${f.until || "…"}`);
    if (f && f.sources && f.sources.length) bits.push(f.sources.join(", "));
    return bits.join("; ");
  }

  function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso || "")
      : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function say(text) {
    const live = $("#watch-live");
    live.textContent = "";
    setTimeout(() => { live.textContent = text; }, 50);
  }

  // ------------------------------------------------------------------ answer buttons
  function setButton(btn, watch) {
    btn.disabled = false;
    btn.classList.toggle("watching", Boolean(watch));
    btn.setAttribute("aria-pressed", watch ? "true" : "false");
    btn.textContent = watch ? "Watching ✓" : "Watch this question";
    btn.title = watch ? "Show it in the watch list" : "Hear when the archive's answer changes";
    if (watch) btn.dataset.watch = watch.id;
    else delete btn.dataset.watch;
  }

  function syncButtons() {
    const byKey = new Map(state.watches.map((w) => [keyOf(w.question, w.filters), w]));
    document.querySelectorAll("button.watch-btn").forEach((btn) => {
      if (btn.dataset.busy !== "1") setButton(btn, byKey.get(btn.dataset.key));
    });
  }

  // Called by app.js once an answer (or an abstention) is shown: its "Watch" button.
  function offer(metaLine, question, filters) {
    const f = {};
    if (filters && filters.since) f.since = filters.since;
    if (filters && filters.until) f.until = filters.until;
    if (filters && filters.sources && filters.sources.length) f.sources = filters.sources;
    const btn = el("button", { type: "button", class: "secondary watch-btn", "data-key": keyOf(question, f) });
    setButton(btn, state.watches.find((w) => keyOf(w.question, w.filters) === btn.dataset.key));
    btn.addEventListener("click", () => {
      if (btn.dataset.watch) openPanel(btn.dataset.watch);
      else watch(btn, question, f);
    });
    metaLine.append(" · ", btn);
  }

  async function watch(btn, question, f) {
    btn.disabled = true;
    btn.dataset.busy = "1";
    btn.textContent = "Watching…";
    try {
      const res = await request("/api/watches", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ question }, f)),
      });
      if (!res.ok) throw new Error(await window.NewsqaChat.errorText(res));
      const w = await res.json();
      delete w.answer;
      state.watches = state.watches.filter((x) => x.id !== w.id).concat([w]);
      delete btn.dataset.busy;
      renderList();
      say(`Watching “${question}”.`);
    } catch (err) {
      delete btn.dataset.busy;
      setButton(btn, null);
      $("#status").textContent = `Could not watch that question: ${err.message}`;
    }
  }

  // ------------------------------------------------------------------ the list
  function itemOf(w) {
    const noticesId = `watch-notices-${w.id}`;
    const question = el("span", { class: "watch-q" });
    const filters = el("span", { class: "watch-filters muted" });
    const badge = el("span", { class: "badge" });
    const open = el("button", {
      type: "button", class: "watch-open", "aria-expanded": "false", "aria-controls": noticesId,
    }, question, filters, badge);
    const remove = el("button", { type: "button", class: "icon watch-remove", text: "×" });
    const notices = el("div", { class: "watch-notices", id: noticesId, hidden: true });
    const li = el("li", { class: "watch", "data-id": w.id },
      el("div", { class: "watch-row" }, open, remove), notices);
    open.addEventListener("click", () => (state.open === w.id ? closeWatch() : openWatch(w.id)));
    remove.addEventListener("click", () => removeWatch(w.id));
    return { li, question, filters, badge, open, remove, notices };
  }

  function renderList() {
    const list = $("#watch-list");
    const ids = new Set(state.watches.map((w) => w.id));
    for (const [id, item] of state.items) {
      if (!ids.has(id)) {
        item.li.remove();
        state.items.delete(id);
        if (state.open === id) state.open = null;
      }
    }
    // the newest first; an item already in its place is not moved (it would lose the focus)
    let at = list.firstElementChild;
    for (const w of [...state.watches].reverse()) {
      let item = state.items.get(w.id);
      if (!item) {
        item = itemOf(w);
        state.items.set(w.id, item);
      }
      item.question.textContent = w.question;
      item.filters.textContent = filterText(w.filters);
      item.badge.textContent = w.unread ? String(w.unread) : "";
      item.badge.title = w.unread ? `${w.unread} unread` : "";
      item.li.classList.toggle("unread", w.unread > 0);
      item.open.setAttribute("aria-label", `${w.question}${w.unread ? `, ${w.unread} unread` : ""}`
        + `, ${w.notices} notice${w.notices === 1 ? "" : "s"}`);
      item.remove.setAttribute("aria-label", `Stop watching “${w.question}”`);
      item.remove.title = "Stop watching";
      if (item.li === at) at = at.nextElementSibling;
      else list.insertBefore(item.li, at);
    }
    const unread = state.watches.reduce((n, w) => n + (w.unread || 0), 0);
    const badge = $("#watch-unread");
    badge.textContent = unread ? String(unread) : "";
    $("#watch-toggle").setAttribute("aria-label",
      `Watching: ${state.watches.length} question${state.watches.length === 1 ? "" : "s"}`
      + (unread ? `, ${unread} unread` : ""));
    document.title = unread ? `(${unread}) ${baseTitle}` : baseTitle;
    $("#watch-hint").hidden = state.watches.length > 0;
    syncButtons();
  }

  // The list from the server; runs again once after the one under way if asked meanwhile.
  async function refresh() {
    if (state.refreshing) {
      state.again = true;
      return state.refreshing;
    }
    state.refreshing = (async () => {
      try {
        const res = await request("/api/watches");
        if (!res.ok) return res.status;
        state.watches = (await res.json()).watches || [];
        state.loaded = true;
        $("#watch-toggle").hidden = false;
        renderList();
        const open = state.watches.find((w) => w.id === state.open);
        if (open && open.unread && !$("#watch-panel").hidden) await openWatch(open.id);
        return res.status;
      } catch {
        return 0;
      } finally {
        state.refreshing = null;
        if (state.again) {
          state.again = false;
          refresh();
        }
      }
    })();
    return state.refreshing;
  }

  // ------------------------------------------------------------------ one watch's notices
  function noticeCite(notice, n) {
    return el("a", {
      class: "cite", href: `#notice-${notice.id}-${n}`, "data-n": n, "data-notice": notice.id,
      title: `Show source ${n}`, text: `[${n}]`,
    });
  }

  function noticeNode(notice) {
    const segments = notice.segments || [];
    const text = el("p", { class: "notice-text" });
    if (segments.length) {
      segments.forEach((seg, i) => {
        if (i) text.append(" ");
        text.append(segmentNode(seg, (n) => noticeCite(notice, n)));
      });
    } else {
      text.textContent = notice.text || "";
    }
    const groups = byArticle(notice.citations);
    return el("li", { class: notice.read ? "notice" : "notice unread", "data-id": notice.id },
      el("div", { class: "notice-head" },
        el("span", { class: `kind kind-${notice.kind}`, text: KINDS[notice.kind] || notice.kind }),
        notice.read ? null : el("span", { class: "new-mark", text: "new" }),
        el("time", { datetime: notice.created_at, class: "muted", text: when(notice.created_at) })),
      text,
      groups.length ? el("ol", { class: "notice-sources" },
        ...groups.map((g) => citationCard(g, `notice-${notice.id}`))) : null);
  }

  function watchSummary(w) {
    const at = w.shown_at ? ` (${when(w.shown_at)})` : "";
    const status = w.answered ? `Answered when last asked${at}.`
      : `No answer in the archive when last asked${at}: you will hear when one comes.`;
    return el("p", { class: "watch-summary muted", text: status });
  }

  async function openWatch(id) {
    const item = state.items.get(id);
    if (!item) return;
    if (state.open && state.open !== id) closeWatch();
    state.open = id;
    item.open.setAttribute("aria-expanded", "true");
    item.li.classList.add("open");
    item.notices.hidden = false;
    if (!item.notices.firstChild) item.notices.append(el("p", { class: "muted", text: "Loading…" }));
    try {
      const res = await request(`/api/watches/${wid(id)}`);
      if (!res.ok) throw new Error(await window.NewsqaChat.errorText(res));
      const body = await res.json(); // {watch, notices}: the notices newest first
      if (state.open !== id) return;
      const w = body.watch || {};
      const notices = Array.isArray(body.notices) ? body.notices : [];
      item.notices.replaceChildren(watchSummary(w), notices.length
        ? el("ol", { class: "notices" }, ...notices.map(noticeNode))
        : el("p", { class: "muted", text: "No change since you started watching it." }));
      if (notices.some((n) => !n.read)) {
        const read = await request(`/api/watches/${wid(id)}/read`, { method: "POST" });
        if (read.ok) {
          const known = state.watches.find((x) => x.id === id);
          if (known) known.unread = 0;
          renderList();
        }
      }
    } catch (err) {
      item.notices.replaceChildren(el("p", { class: "error", text: `Could not load it: ${err.message}` }));
    }
  }

  function closeWatch() {
    const item = state.items.get(state.open);
    state.open = null;
    if (!item) return;
    item.open.setAttribute("aria-expanded", "false");
    item.li.classList.remove("open");
    item.notices.hidden = true;
  }

  async function removeWatch(id) {
    const item = state.items.get(id);
    const w = state.watches.find((x) => x.id === id);
    try {
      const res = await request(`/api/watches/${wid(id)}`, { method: "DELETE" });
      if (!res.ok && res.status !== 404) throw new Error(await window.NewsqaChat.errorText(res));
    } catch (err) {
      say(`Could not stop watching: ${err.message}`);
      return;
    }
    const next = item && (item.li.nextElementSibling || item.li.previousElementSibling);
    state.watches = state.watches.filter((x) => x.id !== id);
    renderList();
    if (w) say(`Stopped watching “${w.question}”.`);
    (next ? next.querySelector(".watch-open") : $("#watch-title")).focus();
  }

  function focusNoticeSource(link) {
    const notice = link.closest(".notice");
    const card = notice && notice.querySelector(
      `.notice-sources .source[data-ns~="${CSS.escape(link.dataset.n)}"]`);
    if (!card) return;
    notice.querySelectorAll(".source.active").forEach((c) => c.classList.remove("active"));
    card.classList.add("active");
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    card.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ the panel
  function openPanel(watchId) {
    const panel = $("#watch-panel");
    panel.hidden = false;
    $("#watch-toggle").setAttribute("aria-expanded", "true");
    if (watchId && state.items.has(watchId)) {
      state.items.get(watchId).open.focus();
      openWatch(watchId); // its notices, fresh from the server
    } else {
      $("#watch-title").focus();
      refresh();
    }
  }

  function closePanel(refocus = true) {
    $("#watch-panel").hidden = true;
    $("#watch-toggle").setAttribute("aria-expanded", "false");
    if (refocus) $("#watch-toggle").focus();
  }

  // ------------------------------------------------------------------ live notices
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  // The event stream (fetch, so that the key and the client id go as headers), reopened with a
  // growing pause when it ends; each notice refreshes the list (its counts are the server's).
  async function listen() {
    for (let failures = 0; ; ) {
      try {
        const res = await request("/api/watches/events", { headers: { Accept: "text/event-stream" } });
        if ([401, 403, 404].includes(res.status)) return; // no watches here, or not ours
        if (res.ok) {
          if (failures) refresh(); // what came while the stream was down
          failures = 0;
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          const parser = new window.NewsqaSSE.Parser();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            for (const { event, data } of parser.push(decoder.decode(value, { stream: true }))) {
              if (event === "notice") noticed(data);
            }
          }
        }
      } catch {
        // network gone: try again below
      }
      failures += 1;
      await sleep(Math.min(30000, 1000 * 2 ** Math.min(failures, 5)));
    }
  }

  function noticed(raw) {
    let n;
    try {
      n = JSON.parse(raw);
    } catch {
      return;
    }
    const what = KINDS[n.kind] || "New";
    say(`${what} for “${n.question || "a watched question"}”: ${n.text || ""}`);
    refresh();
  }

  // ------------------------------------------------------------------ wiring
  document.addEventListener("DOMContentLoaded", async () => {
    $("#watch-toggle").addEventListener("click", () => {
      if ($("#watch-panel").hidden) openPanel();
      else closePanel();
    });
    $("#watch-close").addEventListener("click", () => closePanel());
    // a click elsewhere on the page (a citation of the chat, say) puts the list away
    document.addEventListener("pointerdown", (e) => {
      if ($("#watch-panel").hidden || !(e.target instanceof Element)) return;
      if (!e.target.closest("#watch-panel, #watch-toggle, .watch-btn")) closePanel(false);
    });
    document.addEventListener("keydown", (e) => {
      // Escape in the list, or with the focus nowhere (its item was redrawn), closes it
      const inside = $("#watch-panel").contains(document.activeElement)
        || document.activeElement === document.body;
      if (e.key === "Escape" && !$("#watch-panel").hidden && inside) {
        e.preventDefault();
        closePanel();
      }
    });
    $("#watch-panel").addEventListener("click", (e) => {
      const cite = e.target.closest("a.cite[data-notice]");
      if (cite) {
        e.preventDefault();
        focusNoticeSource(cite);
      }
    });
    const status = await refresh();
    if (status !== 404) listen();
    // a notice's link (its Atom entry, its webhook's answer_url) opens that watch here
    const linked = new URLSearchParams(window.location.search).get("watch");
    if (linked && state.items.has(linked)) openPanel(linked);
  });

  return { offer, refresh, client: CLIENT };
})();
