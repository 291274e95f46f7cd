/*
 * newsrec beacon: records what a reader sees and reads, and sends it to /api/v1/events/.
 *
 * No dependencies. Include it once per page:
 *   <script src="{% static 'newsrec/newsrec.js' %}" defer
 *           data-endpoint="/api/v1/events/" data-surface="home"></script>
 * Mark feed items with  data-newsrec-article="<article id>"  (optionally data-newsrec-slot,
 * data-newsrec-recommendation). A list inside the page (a rail, related stories) marked
 * data-newsrec-surface="rail" sends its items' events with that surface instead of the page's.
 * Mark an article page's body with  data-newsrec-read="<id>"  to record dwell time, read depth
 * and finish.
 * Events are batched (at most 100, the API's limit) and flushed every few seconds, and with
 * navigator.sendBeacon when the page is hidden, so closing a tab loses nothing.
 * Forms marked  data-newsrec-hide  ("Not interested") are posted with fetch and their card
 * replaced by a confirmation with Undo (posted to the form's data-newsrec-undo URL); without
 * JavaScript they post normally and the page's notice offers Undo.
 */
(function () {
  "use strict";
  if (window.newsrec && window.newsrec.started) return;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var ENDPOINT = data.endpoint || "/api/v1/events/";
  var SURFACE = (data.surface || "").slice(0, 32);
  var MAX_BATCH = 100;
  var FLUSH_MS = 5000;
  var queue = [];
  var seen = {};
  var counter = 0;
  var pageId = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
  var sessionId = readSession();
  rememberTimeZone();

  // The reader's UTC offset in minutes, for the server's time-of-day re-rank of the next pages
  // (the local clock never leaves the browser, only its offset).
  function rememberTimeZone() {
    try {
      var offset = -new Date().getTimezoneOffset();
      document.cookie = "newsrec_tz=" + offset + "; path=/; max-age=2592000; SameSite=Lax";
    } catch (e) { /* cookies off: pages are then ranked without the local hour */ }
  }

  function readSession() {
    // A session ends after 30 minutes without activity, like most analytics tools count it.
    try {
      var now = Date.now();
      var stored = JSON.parse(sessionStorage.getItem("newsrec_session") || "null");
      var id = stored && now - stored.t < 30 * 60 * 1000 ? stored.id : pageId;
      sessionStorage.setItem("newsrec_session", JSON.stringify({ id: id, t: now }));
      return id;
    } catch (e) {
      return pageId;
    }
  }

  function referrerType() {
    var ref = document.referrer;
    if (!ref) return "direct";
    try {
      var host = new URL(ref).hostname;
      if (host === location.hostname) return "internal";
      if (/(^|\.)(google|bing|duckduckgo|yahoo|ecosia|baidu|yandex)\./.test(host)) return "search";
      if (/(^|\.)(facebook|twitter|x|t|linkedin|reddit|instagram|bsky|mastodon)\./.test(host)) return "social";
      if (/mail/.test(host)) return "email";
    } catch (e) { /* an unparsable referrer counts as other */ }
    return "other";
  }
  var REFERRER = referrerType();

  function record(kind, el, extra) {
    var id = parseInt(el.getAttribute("data-newsrec-article") || el.getAttribute("data-newsrec-read"), 10);
    if (!(id > 0)) return;
    var now = new Date();
    var event = {
      event_id: pageId + "-" + (counter++),
      kind: kind,
      article_id: id,
      occurred_at: now.toISOString(),
      local_hour: now.getHours(),
      weekday: (now.getDay() + 6) % 7, // the API counts Monday as 0
      referrer: REFERRER,
      session_id: sessionId
    };
    var list = el.closest && el.closest("[data-newsrec-surface]");
    var surface = ((list && list.getAttribute("data-newsrec-surface")) || SURFACE).slice(0, 32);
    if (surface) event.surface = surface;
    var slot = parseInt(el.getAttribute("data-newsrec-slot"), 10);
    if (slot >= 0) event.feed_slot = slot;
    var rec = el.getAttribute("data-newsrec-recommendation");
    if (rec) event.recommendation_id = rec.slice(0, 64);
    for (var key in extra || {}) event[key] = extra[key];
    queue.push(event);
    if (queue.length >= MAX_BATCH) flush(false);
  }

  function flush(leaving) {
    while (queue.length) {
      var batch = queue.splice(0, MAX_BATCH);
      var body = JSON.stringify({ events: batch });
      var sent = false;
      if (leaving && navigator.sendBeacon) {
        sent = navigator.sendBeacon(ENDPOINT, new Blob([body], { type: "application/json" }));
      }
      if (!sent && window.fetch) {
        fetch(ENDPOINT, {
          method: "POST", body: body, credentials: "same-origin", keepalive: true,
          headers: { "Content-Type": "application/json" }
        }).catch(function () { /* event ids make a later resend safe, but we do not retry */ });
      }
    }
  }

  // Impressions: an item counts once it is at least half visible for a second.
  var timers = new WeakMap();
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var el = entry.target;
      if (entry.isIntersecting && entry.intersectionRatio >= 0.5) {
        timers.set(el, setTimeout(function () {
          var key = "i" + el.getAttribute("data-newsrec-article") + "/" + el.getAttribute("data-newsrec-slot");
          if (!seen[key]) { seen[key] = true; record("impression", el); }
          observer.unobserve(el);
        }, 1000));
      } else if (timers.get(el)) {
        clearTimeout(timers.get(el));
      }
    });
  }, { threshold: [0, 0.5] }) : null;

  function watch(root) {
    if (!observer) return;
    (root.querySelectorAll ? root : document).querySelectorAll("[data-newsrec-article]").forEach(function (el) {
      if (!el.__newsrecWatched) { el.__newsrecWatched = true; observer.observe(el); }
    });
  }

  // A click is a followed link: buttons inside a card ("Not interested") are not clicks.
  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest && e.target.closest("a[href]");
    var el = link && link.closest("[data-newsrec-article]");
    if (el) { record("click", el); flush(true); }
  }, true);

  // "Not interested" forms (data-newsrec-hide) work without JavaScript; with it, the card is
  // replaced in place by a visible confirmation with an Undo button (a form posting to the
  // hide form's data-newsrec-undo URL), and Undo puts the card back. The site views record and
  // erase the hide event and queue the feed rebuild.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !window.fetch) return;
    if (form.hasAttribute("data-newsrec-hide")) hideCard(e, form);
    else if (form.__newsrecCard) undoHide(e, form);
  });

  function postForm(form) {
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) throw new Error(form.action + " failed: " + response.status);
      return response.json();
    });
  }

  function hideCard(e, form) {
    e.preventDefault();
    var card = form.closest("[data-newsrec-article]");
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    postForm(form).then(function (answer) {
      announce(answer.message);
      if (!card) return;
      var removed = confirmation(form, card, answer);
      card.parentNode.replaceChild(removed, card);
      // Keyboard users land on Undo; Tab goes on to the next story.
      removed.querySelector("button").focus();
    }).catch(function () {
      form.submit(); // the plain form post still works
    });
  }

  function confirmation(form, card, answer) {
    var item = document.createElement(card.tagName);
    item.className = "card-removed";
    var undo = document.createElement("form");
    undo.className = "undo";
    undo.method = "post";
    undo.action = answer.undo || form.getAttribute("data-newsrec-undo");
    undo.__newsrecCard = card;
    form.querySelectorAll("input[type=hidden]").forEach(function (input) {
      undo.appendChild(input.cloneNode(false));
    });
    var text = document.createElement("p");
    text.className = "card-removed__text";
    text.textContent = answer.message;
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "undo__button";
    button.textContent = "Undo";
    var title = card.querySelector("h3 a, a");
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = " “Not interested”" + (title ? " in “" + title.textContent + "”" : "");
    button.appendChild(label);
    undo.appendChild(text);
    undo.appendChild(button);
    item.appendChild(undo);
    return item;
  }

  function undoHide(e, form) {
    e.preventDefault();
    var card = form.__newsrecCard;
    var item = form.parentNode;
    form.querySelector("button").disabled = true;
    postForm(form).then(function (answer) {
      announce(answer.message);
      item.parentNode.replaceChild(card, item);
      var again = card.querySelector("form[data-newsrec-hide] button");
      if (again) again.disabled = false;
      var link = card.querySelector("a[href]");
      if (link) link.focus(); // back where the reader was
    }).catch(function () {
      form.submit(); // a plain post: the page comes back with the story and a notice
    });
  }

  function announce(text) {
    var region = document.querySelector("[data-newsrec-status]");
    if (region) region.textContent = text;
  }

  // Dwell and read depth on article pages: time counts only while the page is visible.
  var article = document.querySelector("[data-newsrec-read]");
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var dwellMs = 0;
  var maxDepth = 0;
  var finished = false;
  function depth() {
    if (!article) return 0;
    var rect = article.getBoundingClientRect();
    var seenPx = window.innerHeight - rect.top;
    return Math.max(0, Math.min(1, seenPx / Math.max(rect.height, 1)));
  }
  var reportedMs = 0;
  function reportRead() {
    if (!article) return;
    var total = dwellMs + (visibleSince ? Date.now() - visibleSince : 0);
    // Leaving fires both visibilitychange and pagehide: report a stretch of reading once.
    if (total < 1000 || total - reportedMs < 500) return;
    reportedMs = total;
    record("read", article, { dwell_seconds: Math.round(total / 100) / 10, read_depth: Math.round(maxDepth * 1000) / 1000 });
    // A short article read whole without scrolling is finished too.
    if (!finished && maxDepth >= 0.95 && total >= 10000) { finished = true; record("finish", article); }
  }
  if (article) {
    window.addEventListener("scroll", function () {
      maxDepth = Math.max(maxDepth, depth());
      if (!finished && maxDepth >= 0.95) { finished = true; record("finish", article); }
    }, { passive: true });
    maxDepth = depth();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (visibleSince) { dwellMs += Date.now() - visibleSince; visibleSince = null; }
      reportRead();
      flush(true);
    } else {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", function () { reportRead(); flush(true); });
  setInterval(function () { flush(false); }, FLUSH_MS);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(document); });
  } else {
    watch(document);
  }

  window.newsrec = { started: true, watch: watch, flush: flush, queue: queue, reportRead: reportRead };
})();
