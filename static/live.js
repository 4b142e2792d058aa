// grantwatch's live updates: the parts of a page marked `data-live` (with
// an id) are fetched again and swapped in place when /api/events says a
// failure was stored or re-diagnosed. Served as a file: the pages' CSP
// allows script from this origin only, never inline. Without JavaScript the
// pages refresh themselves (<noscript> meta refresh) and work the same.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  if (document.querySelectorAll("[data-live][id]").length === 0) {
    return;
  }
  var body = document.body;
  var updates = 0;
  var busy = false;
  var again = false;

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll("[data-live][id]").forEach(function (part) {
      var next = fresh.getElementById(part.id);
      if (next) {
        part.replaceWith(document.importNode(next, true));
      }
    });
    updates += 1;
    body.setAttribute("data-live-updates", String(updates));
    body.setAttribute("data-live-at", String(Date.now()));
  }

  // One fetch at a time; events during a fetch cause one more after it.
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          swap(html);
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource("/api/events");
  source.addEventListener("open", function () {
    body.setAttribute("data-live", "on");
  });
  source.addEventListener("error", function () {
    body.setAttribute("data-live", "reconnecting");
  });
  source.addEventListener("incident", refresh);
  // The server dropped changes this page was too slow to take: what it
  // shows is read again all the same.
  source.addEventListener("resync", refresh);
})();
