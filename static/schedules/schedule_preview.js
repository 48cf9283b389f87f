/* Schedule form: the description and the next fires update as you type, and
 * the chosen target's description and input fields show under it.
 *
 * The preview asks the native API's preview endpoint (POST
 * /api/v1/schedules/preview/) with the page's session cookie and CSRF token,
 * debounced, so the page and the API can never disagree about a schedule.
 * Configuration and the target catalogue come from json_script blocks. */
"use strict";
(function () {
  var DEBOUNCE_MS = 350;
  var TIMING = [
    "kind", "time_zone", "cron_expression", "cron_dialect", "dst_gap", "dst_fold",
    "interval_weeks", "interval_days", "interval_hours", "interval_minutes",
    "interval_seconds", "repeats"
  ];
  var WALL_CLOCK = ["run_at", "start_at", "end_at"];

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function value(name) {
    var input = document.getElementById("id_" + name);
    return input ? input.value.trim() : "";
  }

  function wallClock(name) {
    var date = value(name + "_0");
    var time = value(name + "_1");
    if (!date || !time) {
      return null;
    }
    return date + "T" + (time.length === 5 ? time + ":00" : time);
  }

  function definition() {
    var body = {};
    TIMING.forEach(function (name) {
      var text = value(name);
      if (text === "") {
        return;
      }
      body[name] = /^interval_|^repeats$/.test(name) ? Number(text) : text;
    });
    WALL_CLOCK.forEach(function (name) {
      var at = wallClock(name);
      if (at) {
        body[name] = at;
      }
    });
    return body;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function wallText(iso, abbreviation, hour12) {
    // The ISO text already holds the wall time in its zone: keep it as written.
    var date = iso.slice(0, 10);
    var time = iso.slice(11, 19);
    if (hour12) {
      var hour = Number(time.slice(0, 2));
      var suffix = hour < 12 ? "AM" : "PM";
      time = String(((hour + 11) % 12) + 1).padStart(2, "0") + time.slice(2) + " " + suffix;
    }
    return (date + " " + time + " " + (abbreviation || "")).trim();
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function renderPreview(target, data, hour12) {
    target.textContent = "";
    var description = document.createElement("p");
    description.className = "preview-description";
    description.textContent = data.description;
    target.appendChild(description);
    if (!data.fires.length) {
      var none = document.createElement("p");
      none.textContent = "no further runs";
      target.appendChild(none);
      return;
    }
    var table = document.createElement("table");
    table.className = "preview-fires";
    var head = table.createTHead().insertRow();
    [data.time_zone, "your zone (" + data.viewer_zone + ")", "DST"].forEach(function (text) {
      var th = document.createElement("th");
      th.textContent = text;
      head.appendChild(th);
    });
    var body = table.createTBody();
    data.fires.forEach(function (fire) {
      var row = body.insertRow();
      cell(row, wallText(fire.schedule_zone, fire.schedule_zone_abbreviation, hour12));
      cell(row, wallText(fire.viewer_zone, fire.viewer_zone_abbreviation, hour12));
      cell(row, fire.dst || "");
    });
    target.appendChild(table);
  }

  function problemText(problem) {
    var errors = problem.errors || {};
    var lines = Object.keys(errors).map(function (field) {
      return field.replace(/_/g, " ") + ": " + [].concat(errors[field]).join(" ");
    });
    return lines.length ? lines.join("; ") : (problem.detail || problem.title || "invalid");
  }

  function showFieldError(problem) {
    var old = document.getElementById("cron-live-error");
    if (old) {
      old.remove();
    }
    var errors = (problem && problem.errors) || {};
    var field = errors.cron_expression ? "cron_expression"
      : errors.time_zone ? "time_zone" : errors.interval ? "interval_seconds" : null;
    var input = field && document.getElementById("id_" + field);
    if (!input) {
      return;
    }
    var note = document.createElement("ul");
    note.className = "errorlist";
    note.id = "cron-live-error";
    note.setAttribute("role", "alert");
    var item = document.createElement("li");
    item.textContent = [].concat(errors[field] || errors.interval).join(" ");
    note.appendChild(item);
    input.insertAdjacentElement("afterend", note);
  }

  function startPreview(config) {
    var target = document.getElementById("schedule-preview");
    var form = target && target.closest("form");
    if (!form) {
      return;
    }
    var timer = null;
    var latest = 0;
    var inFlight = null;

    function ask() {
      var body = definition();
      if (!body.kind) {
        return;
      }
      body.count = config.count;
      body.viewer_zone = config.viewer_zone;
      var sequence = ++latest;
      if (inFlight) {
        inFlight.abort();
      }
      inFlight = new AbortController();
      target.setAttribute("aria-busy", "true");
      fetch(config.url, {
        method: "POST",
        credentials: "same-origin",
        signal: inFlight.signal,
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": csrfToken()
        },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      }).then(function (answer) {
        if (sequence !== latest) {
          return; // an older answer arriving late
        }
        target.removeAttribute("aria-busy");
        if (answer.ok) {
          showFieldError(null);
          renderPreview(target, answer.data, config.hour12);
          target.dataset.state = "ok";
        } else {
          showFieldError(answer.data);
          target.textContent = "";
          var error = document.createElement("p");
          error.className = "errornote preview-error";
          error.textContent = problemText(answer.data);
          target.appendChild(error);
          target.dataset.state = "error";
        }
      }).catch(function (error) {
        if (error.name !== "AbortError" && sequence === latest) {
          target.removeAttribute("aria-busy");
          target.textContent = "Preview unavailable: " + error.message;
        }
      });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DEBOUNCE_MS);
    }

    var names = TIMING.concat(WALL_CLOCK.map(function (n) { return n + "_0"; }))
      .concat(WALL_CLOCK.map(function (n) { return n + "_1"; }));
    names.forEach(function (name) {
      var input = document.getElementById("id_" + name);
      if (input) {
        input.addEventListener("input", later);
        input.addEventListener("change", later);
      }
    });
    if (!target.textContent.trim()) {
      ask();
    }
  }

  function startTargetInfo(catalogue) {
    var input = document.getElementById("id_target");
    if (!input) {
      return;
    }
    var info = document.createElement("div");
    info.id = "target-info";
    info.className = "target-info";
    info.setAttribute("aria-live", "polite");
    // Under the field's help text, in the column of the input (not beside it).
    var box = input.closest(".flex-container");
    (box ? box.parentElement : input.parentElement).appendChild(info);
    var byName = {};
    catalogue.forEach(function (row) { byName[row.name] = row; });

    function show() {
      var row = byName[input.value.trim()];
      info.textContent = "";
      if (!row) {
        if (input.value.trim()) {
          info.textContent = "Not a registered service or component action: type to search the list.";
        }
        return;
      }
      var description = document.createElement("p");
      description.textContent = row.description;
      info.appendChild(description);
      if (row.fields && row.fields.length) {
        var list = document.createElement("ul");
        row.fields.forEach(function (field) {
          var item = document.createElement("li");
          var code = document.createElement("code");
          code.textContent = field.name;
          item.appendChild(code);
          item.appendChild(document.createTextNode(
            " " + (field.type || "any") + (field.required ? ", required" : "") +
            (field.description ? ": " + field.description : "")));
          list.appendChild(item);
        });
        info.appendChild(list);
      }
      if (row.input_schema) {
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = "Input schema";
        var pre = document.createElement("pre");
        pre.textContent = JSON.stringify(row.input_schema, null, 2);
        details.appendChild(summary);
        details.appendChild(pre);
        info.appendChild(details);
      } else {
        var free = document.createElement("p");
        free.className = "quiet";
        free.textContent = "No input schema: any JSON object is accepted.";
        info.appendChild(free);
      }
    }
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var config = readJson("schedule-preview-config");
    if (config) {
      startPreview(config);
    }
    var catalogue = readJson("target-catalogue-data");
    if (catalogue) {
      startTargetInfo(catalogue);
    }
  });
})();
