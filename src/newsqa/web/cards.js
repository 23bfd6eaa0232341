// What the chat and the watch list share: DOM helpers, and how an answer's sentences and the
// articles they cite are drawn. Article text is only ever inserted as text nodes (textContent /
// createTextNode), never as HTML, so markup inside articles is shown, not run.
"use strict";

window.NewsqaCards = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(url) {
    if (!url) return null;
    try {
      const u = new URL(url, window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch {
      return null;
    }
  }

  function link(url, text, cls) {
    const href = safeUrl(url);
    if (!href) return el("span", { class: cls, text });
    return el("a", { class: cls, href, target: "_blank", rel: "noopener noreferrer", text });
  }

  // One answer segment: its lead, its text as text (a "[12]" in it is article text), the part
  // that answers (span) in <strong>, then a link per citation number (`cite(n)` makes it).
  function segmentNode(seg, cite) {
    const text = String(seg.text || "");
    const node = el("span", { class: seg.lead ? "segment with-lead" : "segment" });
    if (seg.lead) node.append(el("span", { class: "lead", text: seg.lead }));
    const span = Array.isArray(seg.span) ? seg.span : null;
    if (span && span[0] >= 0 && span[0] < span[1] && span[1] <= text.length) {
      node.append(text.slice(0, span[0]), el("strong", { class: "span", text: text.slice(span[0], span[1]) }),
        text.slice(span[1]));
    } else {
      node.append(text);
    }
    for (const n of seg.citations || []) node.append(" ", cite(Number(n)));
    if (seg.flag) {
      node.classList.add("flagged");
      node.append(" ", el("em", { class: "flag", text: `(${seg.flag})` }));
    }
    return node;
  }

  // The quoted pieces of a citation: sentences of its passage, or its article's headline.
  function quotePieces(quote) {
    return (quote || "").split(" … ").map((piece) => piece.trim()).filter(Boolean);
  }

  // The passage with the quoted sentence(s) wrapped in <mark>, built from text nodes; a quoted
  // headline is marked on the card's title instead.
  function highlighted(passage, quote, title) {
    const ranges = [];
    const pieces = quotePieces(quote).filter((p) => p !== title);
    for (const p of pieces) {
      const at = passage.indexOf(p);
      if (at >= 0) ranges.push([at, at + p.length]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const frag = document.createDocumentFragment();
    let pos = 0;
    for (const [start, end] of ranges) {
      if (end <= pos) continue;
      const from = Math.max(start, pos);
      if (from > pos) frag.append(document.createTextNode(passage.slice(pos, from)));
      frag.append(el("mark", { text: passage.slice(from, end) }));
      pos = end;
    }
    if (pos < passage.length) frag.append(document.createTextNode(passage.slice(pos)));
    if (!ranges.length && pieces.length) frag.append(el("mark", { text: ` “${pieces.join(" … ")}”` }));
    return frag;
  }

  function meta(item) {
    const bits = [item.source || "unknown outlet", item.published_at || "undated"];
    return el("div", { class: "meta" }, bits.join(" · "),
      item.url ? " · " : null, item.url ? link(item.url, item.url, "url") : null);
  }

  // The citations of an answer grouped by article, in order of their first number: the service
  // numbers articles, but a generated answer numbers the passages its model was shown.
  function byArticle(citations) {
    const groups = new Map();
    for (const c of citations || []) {
      const key = c.article_id || `#${c.n}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    return [...groups.values()];
  }

  // One card per article: its number(s), title and outlet, then each cited passage with the
  // quoted words marked. `data-ns` holds every number that leads to it; its id is `${idPrefix}-n`.
  function citationCard(group, idPrefix) {
    const c = group[0];
    const ns = group.map((g) => g.n);
    const titleQuoted = group.some((g) => quotePieces(g.quote).includes(g.title));
    return el("li", {
      class: "source", "data-n": c.n, "data-ns": ns.join(" "), id: `${idPrefix}-${c.n}`,
      tabindex: "-1",
    },
    el("div", { class: "source-head" },
      ...ns.map((n) => el("span", { class: "num", text: n })),
      titleQuoted ? el("mark", {}, link(c.url, c.title, "title")) : link(c.url, c.title, "title")),
    meta(c),
    ...group.map((g) => el("blockquote", { class: "passage" },
      highlighted(g.passage || g.quote, g.quote, g.title))));
  }

  function passageCard(p, i) {
    const text = p.text.length > 420 ? `${p.text.slice(0, 420)} …` : p.text;
    return el("li", { class: "source closest", "data-rank": i + 1 },
      el("div", { class: "source-head" }, link(p.url, p.title, "title")),
      meta(p),
      p.also_reported_by && p.also_reported_by.length
        ? el("div", { class: "also", text: `Also reported by ${p.also_reported_by.join(", ")}` })
        : null,
      el("blockquote", { class: "passage", text }));
  }

  return { el, safeUrl, link, segmentNode, byArticle, citationCard, passageCard };
})();
