/* Runs that are not finished refresh themselves: the run page (status, times,
 * log tail, result link) and the run list (status, start, duration).
 *
 * Both poll the job run admin's small JSON endpoints every few seconds while
 * something is still queued or running, and stop once everything finished.
 * Configuration comes from json_script; every value is set as text (the badge
 * HTML is built by the server's status_badge filter from a known status). */
"use strict";
(function () {
  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function getJson(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node && text !== undefined && text !== null) {
      node.textContent = text || "–";
    }
  }

  function badge(status) {
    // Rebuilt from the status word, like core/templatetags/scheduler_ui.py.
    var span = document.createElement("span");
    span.className = "status-badge status-" + status;
    span.textContent = status.replace(/_/g, " ");
    return span;
  }

  function showOutcome(run) {
    var result = document.getElementById("run-result");
    if (result && run.result_url && !result.querySelector("a")) {
      var link = document.createElement("a");
      link.href = run.result_url;
      link.setAttribute("download", "");
      link.textContent = run.result_name;
      result.replaceChildren(link);
    }
    var output = document.getElementById("run-output");
    if (output && run.output) {
      var pre = document.createElement("pre");
      pre.className = "run-json";
      pre.textContent = run.output;
      output.replaceChildren(pre);
    }
  }

  function followRun(config) {
    var log = document.getElementById("run-log");
    function tick() {
      getJson(config.run_url).then(function (run) {
        var holder = document.getElementById("run-status");
        if (holder && holder.dataset.status !== run.status) {
          holder.dataset.status = run.status;
          holder.replaceChildren(badge(run.status));
        }
        setText("run-started", run.started_at);
        setText("run-finished", run.finished_at);
        setText("run-last-heartbeat", run.heartbeat_at);
        setText("run-duration", run.duration);
        setText("run-lag", run.lag);
        if (log && log.textContent !== run.log_tail) {
          var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.textContent = run.log_tail;
          if (atBottom) {
            log.scrollTop = log.scrollHeight;
          }
        }
        if (run.error) {
          setText("run-error", run.error);
        }
        if (run.finished) {
          var cancel = document.getElementById("run-cancel-link");
          if (cancel) {
            cancel.closest("li").remove();
          }
          showOutcome(run);
          document.body.dataset.runFinished = "1";
          return;
        }
        window.setTimeout(tick, config.interval_ms);
      }).catch(function () {
        window.setTimeout(tick, config.interval_ms * 3);
      });
    }
    if (!config.finished) {
      window.setTimeout(tick, config.interval_ms);
    } else {
      document.body.dataset.runFinished = "1";
    }
  }

  function followList(config) {
    function pending() {
      return Array.prototype.filter.call(
        document.querySelectorAll(".run-status[data-finished='0']"),
        function () { return true; }
      );
    }
    function tick() {
      var open = pending();
      if (!open.length) {
        return;
      }
      var query = open.map(function (node) { return "id=" + node.dataset.run; }).join("&");
      getJson(config.list_url + "?" + query).then(function (answer) {
        open.forEach(function (node) {
          var run = answer.runs[node.dataset.run];
          if (!run) {
            return;
          }
          node.replaceChildren(badge(run.status));
          node.dataset.finished = run.finished ? "1" : "0";
          document.querySelectorAll("[data-run='" + run.id + "']").forEach(function (cell) {
            if (cell.classList.contains("run-started")) {
              cell.textContent = run.started_at;
            } else if (cell.classList.contains("run-duration")) {
              cell.textContent = run.duration;
            }
          });
        });
        window.setTimeout(tick, config.interval_ms);
      }).catch(function () {
        window.setTimeout(tick, config.interval_ms * 3);
      });
    }
    window.setTimeout(tick, config.interval_ms);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var run = readJson("run-live-config");
    if (run) {
      followRun(run);
    }
    var list = readJson("runs-live-config");
    if (list) {
      followList(list);
    }
  });
})();
