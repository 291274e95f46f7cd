/*
 * newsrec "Before you go": opens the nudge that {% newsrec_nudge %} rendered, once, when the
 * reader is about to leave.
 *
 * Desktop (a fine pointer): the pointer leaves the page towards the top (the tab bar, the
 * address bar, the close button). Phones and tablets (a coarse pointer or no hover): the end of
 * the article ([data-newsrec-read]) comes into view; without one, the end of the page.
 * Before opening, it asks the server (data-claim) to count the nudge against the reader's daily
 * cap, so two tabs never show two. The dialog is modal: focus moves to its title, Tab stays
 * inside, Escape or the Close button (or a click beside it) closes it and focus returns to where
 * it was. No dependencies; the beacon (newsrec.js) records impressions and clicks of its items.
 */
(function () {
  "use strict";
  var dialog = document.querySelector("dialog[data-newsrec-nudge]");
  if (!dialog || typeof dialog.showModal !== "function" || dialog.__newsrecNudge) return;
  dialog.__newsrecNudge = true;

  var MIN_MS_ON_PAGE = 2000; // a pointer passing the top edge on arrival is not leaving
  var loadedAt = Date.now();
  var done = false;
  var returnFocus = null;

  function open() {
    if (done) return;
    done = true;
    stop();
    fetch(dialog.getAttribute("data-claim"), {
      method: "POST", credentials: "same-origin",
      body: new URLSearchParams({
        kind: dialog.getAttribute("data-kind") || "before-you-go",
        surface: dialog.getAttribute("data-surface") || "article"
      }),
      headers: { "X-CSRFToken": dialog.getAttribute("data-csrf") || "", "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : { show: false };
    }).then(function (answer) {
      if (!answer.show) return; // the daily cap is spent (another tab, another page)
      returnFocus = document.activeElement;
      dialog.showModal();
      dialog.querySelector(".newsrec-nudge__title").focus();
      if (window.newsrec && window.newsrec.watch) window.newsrec.watch(dialog);
    }).catch(function () { /* offline: no nudge rather than one over the cap */ });
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", function () {
    if (returnFocus && returnFocus.focus && document.contains(returnFocus)) returnFocus.focus();
  });
  dialog.querySelector("[data-newsrec-nudge-close]").addEventListener("click", close);
  dialog.addEventListener("click", function (e) {
    if (e.target === dialog) close(); // the backdrop: a click beside the box
  });

  // Desktop: the pointer leaves through the top of the window.
  function onMouseOut(e) {
    if (e.relatedTarget || e.toElement) return; // moved onto another element of the page
    if (e.clientY > 0) return; // left sideways or downwards: not towards the tab bar
    if (Date.now() - loadedAt < MIN_MS_ON_PAGE) return;
    open();
  }

  // Phones: the end of the article comes into view.
  var observer = null;
  function watchTheEnd() {
    if (!("IntersectionObserver" in window)) return;
    var article = document.querySelector("[data-newsrec-read]");
    var marker = document.createElement("span");
    marker.setAttribute("aria-hidden", "true");
    marker.className = "newsrec-nudge-end";
    (article || document.body).appendChild(marker);
    observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) open();
    });
    observer.observe(marker);
  }

  function stop() {
    document.removeEventListener("mouseout", onMouseOut);
    if (observer) observer.disconnect();
  }

  var touch = window.matchMedia && window.matchMedia("(hover: none), (pointer: coarse)").matches;
  if (touch) setTimeout(watchTheEnd, MIN_MS_ON_PAGE); // a short story's end shows on arrival
  else document.addEventListener("mouseout", onMouseOut);
})();
