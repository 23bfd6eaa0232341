// newsqa web chat: plain DOM, no framework. Article text is only ever inserted as text nodes
// (textContent / createTextNode), never as HTML, so markup inside articles is shown, not run.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const state = {
    history: [], // [{role, content}] sent with follow-up questions
    turns: [], // per turn: {el, answerEl, result}
    shown: -1, // turn whose sources the panel shows
    busy: false,
    inFlight: null, // AbortController of the answer being fetched
    key: sessionStorage.getItem("newsqa-key") || "",
  };
  const MAX_HISTORY = 12;

  // Seconds without a byte from the server before an answer is given up: `?timeout=` in the
  // page's address, else the page's <meta name="newsqa-timeout-s">, else 60.
  function answerTimeoutMs() {
    const given = new URLSearchParams(window.location.search).get("timeout")
      || (document.querySelector('meta[name="newsqa-timeout-s"]') || {}).content;
    const seconds = Number(given);
    return (Number.isFinite(seconds) && seconds > 0 ? seconds : 60) * 1000;
  }

  const { el, segmentNode, byArticle, citationCard, passageCard } = window.NewsqaCards;

  function citeLink(n, turnIndex) {
    return el("a", {
      class: "cite", href: `#source-${turnIndex}-${n}`, "data-n": n,
      "data-turn": turnIndex, title: `Show source ${n}`, text: `[${n}]`,
    });
  }

  // The checked segments, then (while a model writes) the text of the sentence in progress.
  function renderSegments(target, segments, turnIndex, draft = "", note = "") {
    const nodes = [];
    if (note) nodes.push(el("p", { class: "note", text: note }));
    segments.forEach((seg, i) => {
      if (i) nodes.push(document.createTextNode(" "));
      nodes.push(segmentNode(seg, (n) => citeLink(n, turnIndex)));
    });
    if (draft) nodes.push(document.createTextNode(" "), el("span", { class: "draft", text: draft }));
    target.replaceChildren(...nodes);
  }

  // ------------------------------------------------------------------ sources panel
  function showSources(turnIndex) {
    const turn = state.turns[turnIndex];
    const list = $("#sources");
    state.shown = turnIndex;
    document.querySelectorAll(".turn.selected").forEach((t) => t.classList.remove("selected"));
    if (!turn || !turn.result) return;
    turn.el.classList.add("selected");
    const r = turn.result;
    $("#sources-hint").textContent = `For: “${r.question}”`;
    if (r.abstained) {
      $("#sources-title").textContent = "Closest articles";
      list.replaceChildren(...r.passages.slice(0, 8).map(passageCard));
    } else {
      $("#sources-title").textContent = "Sources";
      const cards = byArticle(r.citations).map((g) => citationCard(g, `source-${turnIndex}`));
      list.replaceChildren(...cards);
    }
  }

  function focusSource(turnIndex, n) {
    if (state.shown !== turnIndex) showSources(turnIndex);
    const card = document.querySelector(`#sources .source[data-ns~="${CSS.escape(String(n))}"]`);
    if (!card) return;
    document.querySelectorAll("#sources .source.active").forEach((c) => c.classList.remove("active"));
    card.classList.add("active");
    // On one column the page itself scrolls: the card's head goes right below the header.
    const oneColumn = window.matchMedia("(max-width: 820px)").matches;
    card.scrollIntoView({ behavior: "smooth", block: oneColumn ? "start" : "nearest" });
    card.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ HTTP
  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (state.key) headers.Authorization = `Bearer ${state.key}`;
    let res = await fetch(path, Object.assign({}, options, { headers }));
    if (res.status === 401) {
      const key = window.prompt("This newsqa server needs an API key:");
      if (key) {
        state.key = key;
        sessionStorage.setItem("newsqa-key", key);
        headers.Authorization = `Bearer ${key}`;
        res = await fetch(path, Object.assign({}, options, { headers }));
      }
    }
    return res;
  }

  // What the other scripts of the page use: the API with this page's key (watch.js).
  window.NewsqaChat = { api, errorText };

  async function errorText(res) {
    try {
      const body = await res.json();
      return body.detail || `HTTP ${res.status}`;
    } catch {
      return `HTTP ${res.status}`;
    }
  }

  // ------------------------------------------------------------------ filters
  function filters() {
    const f = {};
    const since = $("#since").value;
    const until = $("#until").value;
    const asOf = $("#as-of").value;
    const outlets = $("#source").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (since) f.since = since;
    if (until) f.until = until;
    if (asOf) f.as_of = asOf;
    if (outlets.length) f.sources = outlets;
    return f;
  }

  function updateFilterSummary() {
    const f = filters();
    const bits = [];
    if (f.since || f.until) bits.push(`${f.since || "…"} – ${f.until || "…"}`);
    if (f.sources) bits.push(f.sources.join(", "));
    if (f.as_of) bits.push(`as of ${f.as_of}`);
    if ($("#view").value !== "answer") bits.push($("#view").selectedOptions[0].textContent);
    $("#filter-summary").textContent = bits.length ? `(${bits.join("; ")})` : "";
  }

  // ------------------------------------------------------------------ conversation
  function addTurn(question) {
    const intro = $("#intro");
    if (intro) intro.remove();
    const index = state.turns.length;
    const answerEl = el("div", { class: "answer streaming", "aria-busy": "true" },
      el("span", { class: "muted", text: "Searching the archive…" }));
    const node = el("article", { class: "turn", "data-turn": index },
      el("p", { class: "question", text: question }), answerEl);
    $("#conversation").append(node);
    window.NewsqaView.reveal(node);
    const turn = { el: node, answerEl, result: null, index, question, filters: {} };
    state.turns.push(turn);
    return turn;
  }

  function finishTurn(turn, result) {
    turn.result = result;
    const a = turn.answerEl;
    a.classList.remove("streaming");
    a.removeAttribute("aria-busy");
    a.dataset.state = result.abstained ? "abstained" : "done";
    if (result.abstained) {
      a.classList.add("abstained");
      a.replaceChildren(
        el("p", { class: "abstained-note" },
          el("strong", { text: "No answer in the archive. " }),
          `${result.answer} The closest articles are listed under “Closest articles”.`));
    } else {
      renderSegments(a, result.segments || [], turn.index, "", result.note || "");
    }
    const n = result.abstained ? result.passages.length : byArticle(result.citations).length;
    const label = result.abstained ? `${n} closest articles` : `${n} source${n === 1 ? "" : "s"}`;
    const ms = result.timings_ms && result.timings_ms.total;
    const c = result.mode === "generate" ? result.claims : null;
    const checked = c ? ` · written by the language model: ${c.checked} sentences checked, `
      + `${c.kept} supported, ${c.flagged} flagged, ${c.dropped} dropped` : "";
    const metaLine = el("p", { class: "turn-meta muted" },
      el("button", { type: "button", class: "link show-sources", "data-turn": turn.index, text: label }),
      ms ? ` · ${Math.round(ms)} ms` : "", checked);
    turn.el.append(metaLine);
    // the question can be watched: an abstention too (the archive may answer it later)
    if (window.NewsqaWatch) window.NewsqaWatch.offer(metaLine, turn.question, turn.filters);
    state.history.push({ role: "user", content: result.question },
      { role: "assistant", content: result.answer });
    state.history = state.history.slice(-MAX_HISTORY);
    showSources(turn.index);
    showIndexSize();
    window.NewsqaView.reveal(turn.el, a);
  }

  function failTurn(turn, message) {
    turn.answerEl.classList.remove("streaming");
    turn.answerEl.removeAttribute("aria-busy");
    turn.answerEl.dataset.state = "error";
    turn.answerEl.replaceChildren(el("p", { class: "error", text: message }));
    window.NewsqaView.reveal(turn.el, turn.answerEl);
  }

  async function ask(question) {
    const f = filters();
    if (f.since && f.until && f.since > f.until) {
      $("#status").textContent = "The “From” date is after the “To” date.";
      return;
    }
    const body = Object.assign({ question }, f);
    const view = $("#view").value;
    if (view !== "answer") body.view = view;
    if (state.history.length) body.history = state.history;
    if (!$("#generate-switch").hidden && $("#generate").checked && view === "answer") {
      body.mode = "generate";
    }
    window.NewsqaView.asked();
    const turn = addTurn(question);
    turn.filters = f;
    // "New conversation" aborts this controller; so does a server silent for the timeout.
    const controller = new AbortController();
    const timeoutMs = answerTimeoutMs();
    let timedOut = false;
    let timer = 0;
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeoutMs);
    };
    state.inFlight = controller;
    setBusy(true);
    rearm();
    try {
      const res = await api("/api/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!res.ok) throw new Error(await errorText(res));
      let segments = [];
      let draft = "";
      let note = "";
      let finished = false;
      const render = () => {
        renderSegments(turn.answerEl, segments, turn.index, draft, note);
        window.NewsqaView.reveal(turn.el, turn.answerEl);
      };
      for await (const { event, data } of window.NewsqaSSE.read(res, rearm)) {
        if (controller.signal.aborted) break;
        if (event === "sources") {
          $("#status").textContent = `Found ${data.passages.length} passages; composing the answer…`;
        } else if (event === "token") {
          draft += data.text;
          render();
        } else if (event === "claim") {
          draft = "";  // the sentence is checked: its segment (if shown) follows as a delta
          render();
        } else if (event === "note") {
          segments = [];
          draft = "";
          note = data.text;
          render();
        } else if (event === "delta") {
          segments.push(data.segment);
          render();
        } else if (event === "done") {
          finishTurn(turn, data);
          finished = true;
        } else if (event === "error") {
          throw new Error(data.detail);
        }
      }
      if (controller.signal.aborted) throw new DOMException("aborted", "AbortError");
      if (!finished) throw new Error("The answer stream ended early.");
      $("#status").textContent = "";
    } catch (err) {
      if (timedOut) {
        failTurn(turn, `No answer from the server within ${timeoutMs / 1000} seconds; `
          + "it may be busy. Please try again.");
        $("#status").textContent = "";
      } else if (!controller.signal.aborted) {
        failTurn(turn, `Sorry, that failed: ${err.message}`);
        $("#status").textContent = "";
      } // else the conversation was reset: this answer belongs to no conversation any more
    } finally {
      clearTimeout(timer);
      if (state.inFlight === controller) {
        state.inFlight = null;
        setBusy(false);
      }
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    $("#ask").disabled = busy;
    $("#ask").textContent = busy ? "…" : "Ask";
  }

  function reset() {
    if (state.inFlight) state.inFlight.abort();
    state.inFlight = null;
    setBusy(false);
    $("#status").textContent = "";
    state.history = [];
    state.turns = [];
    state.shown = -1;
    $("#conversation").replaceChildren();
    $("#sources").replaceChildren();
    $("#sources-title").textContent = "Sources";
    $("#sources-hint").textContent = "The sources of an answer appear here.";
    $("#question").focus();
  }

  async function showIndexSize() {
    try {
      const res = await api("/api/health");
      if (!res.ok) return;
      const health = await res.json();
      const n = health.articles;
      $("#index-size").textContent = `${n.toLocaleString()} article${n === 1 ? "" : "s"}`;
      $("#generate-switch").hidden = !health.generator;
      $("#generator-name").textContent = health.generator ? `(${health.generator})` : "";
    } catch {
      // informational only
    }
  }

  function ago(iso) {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 90) return "just now";
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 129600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }

  async function showFreshness() {
    // How fresh the archive is: the last successful feed poll, else the newest article's date.
    try {
      // No key prompt for this: a server whose reads need one shows it once asked.
      const headers = state.key ? { Authorization: `Bearer ${state.key}` } : {};
      const res = await fetch("/api/feeds", { headers });
      if (!res.ok) return;
      const st = await res.json();
      const n = st.feeds.length;
      let text = st.latest_published ? `newest article ${st.latest_published}` : "";
      if (n && st.last_success) {
        text = `updated ${ago(st.last_success)} from ${n} feed${n === 1 ? "" : "s"}`;
      } else if (n) {
        text = `following ${n} feed${n === 1 ? "" : "s"}, not polled yet`;
      }
      if (n && !st.follower.active) text += " (follower not running)";
      const box = $("#freshness");
      box.textContent = text;
      box.title = st.last_success ? `Last successful feed poll: ${st.last_success}` : "";
    } catch {
      // informational only
    }
  }

  async function loadOutlets() {
    try {
      const res = await api("/api/articles?limit=100");
      if (!res.ok) return;
      const page = await res.json();
      const outlets = [...new Set(page.items.map((a) => a.source).filter(Boolean))].sort();
      $("#source-list").replaceChildren(...outlets.map((o) => el("option", { value: o })));
    } catch {
      // the filters still work as free text
    }
  }

  // ------------------------------------------------------------------ wiring
  document.addEventListener("DOMContentLoaded", () => {
    const form = $("#ask-form");
    const q = $("#question");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const question = q.value.trim();
      if (!question || state.busy) return;
      q.value = "";
      ask(question);
    });
    q.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    document.addEventListener("click", (e) => {
      const cite = e.target.closest("a.cite[data-turn]");
      if (cite) {
        e.preventDefault();
        focusSource(Number(cite.dataset.turn), cite.dataset.n);
        return;
      }
      const show = e.target.closest("button.show-sources");
      if (show) {
        showSources(Number(show.dataset.turn));
        $("#sources-panel").scrollIntoView({ behavior: "smooth", block: "start" });
        return;
      }
      const example = e.target.closest("button.example");
      if (example) {
        q.value = example.textContent.replace(/\s+/g, " ").trim();
        form.requestSubmit();
      }
    });
    $("#new").addEventListener("click", reset);
    $("#clear-filters").addEventListener("click", () => {
      for (const id of ["#since", "#until", "#source", "#as-of"]) $(id).value = "";
      $("#view").value = "answer";
      updateFilterSummary();
    });
    $("#filters").addEventListener("input", updateFilterSummary);
    $("#filters").addEventListener("change", updateFilterSummary);
    showIndexSize();
    showFreshness();
    setInterval(showFreshness, 60000);
    loadOutlets();
    q.focus();
  });
})();
