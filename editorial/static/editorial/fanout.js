/* The rule set page's live feed-rebuild progress bar (polls the progress view). */
"use strict";
(function () {
  const box = document.getElementById("fanout");
  if (!box) return;
  async function poll() {
    try {
      const data = await (await fetch(box.dataset.url, {credentials: "same-origin"})).json();
      const p = data.progress;
      const text = document.getElementById("fanout-text");
      const bar = document.getElementById("fanout-bar");
      if (!p) { text.textContent = "no rebuild yet (rules version " + data.rules_version + ")"; return; }
      bar.max = Math.max(p.total, 1); bar.value = p.done;
      text.textContent = p.done + " / " + p.total + " readers" +
        (p.done < p.total ? ", about " + Math.round(p.eta_seconds) + " s left" : ", done") +
        " (rules version " + data.rules_version + ")";
      if (p.done < p.total) setTimeout(poll, 2000);
    } catch (e) { /* the page still works without the live bar */ }
  }
  poll();
})();
