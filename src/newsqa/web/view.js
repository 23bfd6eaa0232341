// What the reader sees of the page: the newest answer is scrolled into the room between the
// sticky header and the sticky question form (while it is written and when it is finished),
// unless the reader has scrolled up since asking; the header's height is kept in --header-h, so
// that what the page scrolls to (a source card, the sources panel) lands below the header.
"use strict";

window.NewsqaView = (() => {
  const MARGIN = 8; // px kept between an answer and the header or the form
  let scrolledUp = false;
  let touchY = null;

  // The part of the viewport not covered by the header or the question form.
  function room() {
    const header = document.querySelector(".top").getBoundingClientRect();
    const form = document.querySelector("#ask-form");
    const below = form.getBoundingClientRect().height
      + (parseFloat(getComputedStyle(form).marginBottom) || 0);
    return { top: Math.max(0, header.bottom) + MARGIN, bottom: window.innerHeight - below - MARGIN };
  }

  // Scroll `node` into the room; when it is taller than the room, `inner` (its answer), or the
  // top of whichever is shown. Nothing moves once the reader has scrolled up since `asked`.
  function reveal(node, inner) {
    if (scrolledUp) return;
    const r = room();
    const height = r.bottom - r.top;
    let box = node.getBoundingClientRect();
    if (box.height > height && inner) box = inner.getBoundingClientRect();
    let dy = 0;
    if (box.height > height || box.top < r.top) dy = box.top - r.top;
    else if (box.bottom > r.bottom) dy = box.bottom - r.bottom;
    if (Math.abs(dy) >= 1) window.scrollBy({ top: dy, behavior: "instant" });
  }

  // A question was asked: the page follows its answer again.
  function asked() {
    scrolledUp = false;
  }

  function isField(target) {
    return target instanceof Element && target.closest("input, textarea, select") !== null;
  }

  function watchReader() {
    window.addEventListener("wheel", (e) => { if (e.deltaY < 0) scrolledUp = true; },
      { passive: true });
    window.addEventListener("touchstart", (e) => { touchY = e.touches[0].clientY; },
      { passive: true });
    window.addEventListener("touchmove", (e) => {
      // a finger moving down the screen scrolls the page up
      if (touchY !== null && e.touches[0].clientY > touchY + 10) scrolledUp = true;
    }, { passive: true });
    window.addEventListener("keydown", (e) => {
      if (!isField(e.target) && ["ArrowUp", "PageUp", "Home"].includes(e.key)) scrolledUp = true;
    });
  }

  function trackHeader() {
    const header = document.querySelector(".top");
    const set = () => document.documentElement.style.setProperty(
      "--header-h", `${header.getBoundingClientRect().height}px`);
    new ResizeObserver(set).observe(header);
    set();
  }

  document.addEventListener("DOMContentLoaded", () => {
    watchReader();
    trackHeader();
  });

  return { reveal, asked };
})();
