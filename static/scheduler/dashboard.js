/* Re-fetch the dashboard's figures every few seconds (admin/dashboard_figures.html).
 *
 * Hand-written: a timer and fetch() are all it takes. The server renders the
 * fragment (same template as the first paint), so no markup is built from
 * strings here. Stops when the session ends (the fetch lands on the login
 * page), waits while the tab is hidden, and puts keyboard focus back on the
 * same link after a swap so tabbing through the page is not interrupted.
 */
(function () {
  "use strict";

  // A figure's name first: its link can change between two refreshes (the
  // runs' links carry the first hour counted, which moves on the hour).
  function focusKey(element) {
    if (!element || !element.getAttribute) { return null; }
    var figure = element.getAttribute("data-figure");
    if (figure) { return "figure:" + figure; }
    return element.getAttribute("href") || element.id || null;
  }

  function refocus(box, key) {
    if (!key) { return; }
    var candidates = box.querySelectorAll("[data-figure], a[href], [id]");
    for (var i = 0; i < candidates.length; i += 1) {
      if (focusKey(candidates[i]) === key) { candidates[i].focus(); return; }
    }
  }

  function start(box) {
    var url = box.dataset.refreshUrl;
    var seconds = Number(box.dataset.refreshSeconds) || 5;
    var busy = false;

    function schedule(factor) { window.setTimeout(tick, seconds * 1000 * (factor || 1)); }

    function swap(html) {
      var focused = box.contains(document.activeElement) ? focusKey(document.activeElement) : null;
      var parsed = new DOMParser().parseFromString(html, "text/html");
      box.replaceChildren.apply(box, Array.prototype.slice.call(parsed.body.childNodes));
      refocus(box, focused);
    }

    function tick() {
      if (document.hidden || busy) { schedule(); return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          busy = false;
          if (response.redirected) {
            // Signed out: the fetch landed on the login page. Keep the last
            // figures (their "Updated" time tells how old they are) and stop.
            box.dataset.refreshStopped = "true";
            return;
          }
          if (!response.ok) { schedule(6); return; }
          return response.text().then(function (html) { swap(html); schedule(); });
        })
        .catch(function () {
          busy = false;
          schedule(6); // the server is unreachable: try again, less often
        });
    }

    schedule();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("dashboard-figures");
    if (box && box.dataset.refreshUrl) { start(box); }
  });
}());
