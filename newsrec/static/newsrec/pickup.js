/*
 * newsrec "Pick up where you left off": dismissing the region that {% newsrec_pickup %} rendered.
 *
 * The Dismiss button is a form (it works without JavaScript: the server notes the dismissal
 * and sends the reader back to the page). With JavaScript the form posts in the background,
 * the region goes away at once and focus moves to the element after it (or the page's main
 * heading), so keyboard and screen-reader users are not left on nothing. Escape while focus is
 * inside the region dismisses it too. No dependencies; the beacon (newsrec.js) records
 * impressions and clicks of its item.
 */
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-newsrec-pickup]");
  Array.prototype.forEach.call(regions, function (region) {
    if (region.__newsrecPickup) return;
    region.__newsrecPickup = true;
    var form = region.querySelector("[data-newsrec-pickup-dismiss]");
    if (!form) return;

    function focusAfter() {
      var next = region.nextElementSibling;
      while (next && (next.tagName === "SCRIPT" || next.tagName === "LINK")) {
        next = next.nextElementSibling;
      }
      var target = next || document.querySelector("main h1, h1, main") || document.body;
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
    }

    function dismiss() {
      fetch(form.action, {
        method: "POST", credentials: "same-origin", body: new FormData(form),
        headers: { "Accept": "application/json" }
      }).catch(function () { /* offline: it is gone from this page all the same */ });
      focusAfter();
      region.remove();
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      dismiss();
    });
    region.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.preventDefault();
        dismiss();
      }
    });
  });
})();
