/* The component action panel of the schedule form (see ScheduleAdmin).
 *
 * When `target` names a component action (woocommerce.list_products), the panel
 * shows a credential chooser and the action's fields, fills select fields by
 * running the component's select-model method through the asynchronous
 * executions API (POST -> 202 + Location -> poll until its 303 to the result),
 * and shows the action's dynamic metadata for the chosen values. The values are
 * posted as component_* fields (the server merges them into `input`) and
 * mirrored into the input textarea, so what the page shows is what is saved.
 * Data comes from json_script "component-actions". Vendored, no build step. */
"use strict";
(function () {
  var config = null;
  var panel = null;
  var current = null; // the action shown, or null
  var generation = 0; // bumped when the action or credential changes: late answers are dropped
  var metaGeneration = 0;
  var POLL_MS = 500;

  // --- small DOM helpers ----------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") {
        node.textContent = attrs[key];
      } else {
        node.setAttribute(key === "className" ? "class" : key, attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function setStatus(node, text, kind) {
    node.textContent = text;
    node.className = "component-status" + (kind ? " component-status-" + kind : "");
  }

  function option(value, label) {
    var node = el("option", {value: value, text: label});
    return node;
  }

  // --- the asynchronous executions API --------------------------------------
  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function problem(answer) {
    var fallback = "the server answered HTTP " + answer.status;
    try {
      var body = await answer.json();
      var details = [];
      Object.keys(body.errors || {}).forEach(function (key) {
        details = details.concat(body.errors[key]);
      });
      var text = body.detail || body.title || fallback;
      return details.length ? text + " " + details.join(" ") : text;
    } catch (error) {
      return fallback;
    }
  }

  function outcome(body) {
    if (body.status === "succeeded") {
      return body.result;
    }
    if (body.status === "timed_out") {
      throw new Error("the component did not answer in time (" + (body.error || "time limit") + ")");
    }
    throw new Error(body.error || "the execution ended " + body.status);
  }

  // Runs one component method on a worker: resolves to its result, rejects
  // with a message written for the page.
  async function execute(payload, progress) {
    var answer = await fetch(config.executions_url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(payload)
    });
    if (answer.status !== 202) {
      throw new Error(await problem(answer));
    }
    var poll = answer.headers.get("Location");
    var deadline = Date.now() + config.timeout_seconds * 1000;
    for (;;) {
      // fetch follows the poll's 303 to the result by itself.
      var reply = await fetch(poll, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!reply.ok) {
        throw new Error(await problem(reply));
      }
      var body = await reply.json();
      if ("result" in body) {
        return outcome(body);
      }
      progress(body.status === "running" ? "running" : "waiting for a worker");
      if (Date.now() > deadline) {
        throw new Error(
          "no answer after " + config.timeout_seconds + " s" +
          (body.status === "pending" ? ": no worker took the request (is one running on the executions queue?)" : "")
        );
      }
      await sleep(POLL_MS);
    }
  }

  // --- values ---------------------------------------------------------------
  function controlOf(name) {
    return document.getElementById("id_component_" + name);
  }

  function credentialValue() {
    var select = document.getElementById("id_component_credential");
    return select ? select.value : "";
  }

  function typed(spec, control) {
    if (spec.type === "boolean") {
      return control.checked;
    }
    if (control.value === "") {
      return "";
    }
    if (spec.type === "integer" && /^-?\d+$/.test(control.value.trim())) {
      return parseInt(control.value, 10);
    }
    if (spec.type === "number" && !isNaN(Number(control.value))) {
      return Number(control.value);
    }
    return control.value;
  }

  function fieldValues(action) {
    var values = {};
    Object.keys(action.fields).forEach(function (name) {
      var control = controlOf(name);
      var value = control ? typed(action.fields[name], control) : "";
      if (value !== "" && value !== false) {
        values[name] = value;
      }
    });
    return values;
  }

  function readInput() {
    var area = document.getElementById("id_input");
    try {
      var data = JSON.parse((area && area.value) || "{}");
      return data && typeof data === "object" && !Array.isArray(data) ? data : null;
    } catch (error) {
      return null; // the server reports bad JSON when the form is saved
    }
  }

  // The textarea shows what will be saved: credential and fields first.
  function mirror(action) {
    var area = document.getElementById("id_input");
    var data = readInput();
    if (!area || data === null) {
      return;
    }
    var merged = {};
    var credential = credentialValue();
    if (credential) {
      merged.credential = credential;
    }
    Object.assign(merged, fieldValues(action));
    Object.keys(data).forEach(function (key) {
      if (key !== "credential" && !(key in action.fields)) {
        merged[key] = data[key];
      }
    });
    area.value = JSON.stringify(merged);
  }

  function missing(action) {
    var absent = credentialValue() ? [] : ["a credential"];
    var values = fieldValues(action);
    Object.keys(action.fields).forEach(function (name) {
      if (action.fields[name].required && !(name in values)) {
        absent.push(action.fields[name].label);
      }
    });
    return absent;
  }

  // --- building the panel ---------------------------------------------------
  function row(name, label, control, help, required) {
    var labelNode = el("label", {for: control.id, text: label + ":"});
    if (required) {
      labelNode.className = "required";
    }
    var helpNode = el("div", {className: "help", id: control.id + "_helptext"}, [el("div", {}, help)]);
    var status = el("div", {className: "component-status", id: control.id + "_status", role: "status"});
    control.setAttribute("aria-describedby", helpNode.id + " " + status.id);
    var box = el("div", {className: "flex-container"}, [labelNode, control]);
    return el("div", {className: "form-row field-component_" + name}, [el("div", {}, [box, helpNode, status])]);
  }

  function statusOf(control) {
    return document.getElementById(control.id + "_status");
  }

  function credentialRow(action, wanted) {
    var select = el("select", {name: config.names.credential, id: "id_component_credential"});
    select.appendChild(option("", "---------"));
    action.credentials.forEach(function (stored) {
      var note = stored.verified === true ? " (verified)" : stored.verified === false ? " (last check failed)" : "";
      select.appendChild(option(stored.name, stored.name + note));
    });
    if (wanted && !action.credentials.some(function (stored) { return stored.name === wanted; })) {
      select.appendChild(option(wanted, wanted + " (no such " + action.component_title + " credential)"));
    }
    select.value = wanted || "";
    var help = ["Stored " + action.component_title + " credentials; the action reads the chosen one's name from input.credential."];
    if (config.credential_add_url) {
      var href = config.credential_add_url + "?component=" + encodeURIComponent(action.component);
      help.push(" ", el("a", {href: href, target: "_blank", rel: "noopener", text: "Add a credential"}), " (new tab; reload this page after).");
    }
    select.addEventListener("change", function () { credentialChanged(action); });
    var node = row("credential", "Credential", select, help, true);
    if (!action.credentials.length) {
      setStatus(node.querySelector(".component-status"),
        "No " + action.component_title + " credential is stored yet: add one first.", "error");
    }
    return node;
  }

  function fieldControl(name, spec, wanted) {
    var id = "id_component_" + name;
    var fieldName = config.names.field_prefix + name;
    if (spec.type === "select") {
      var select = el("select", {name: fieldName, id: id});
      select.appendChild(option("", "---------"));
      var static_ = spec.model && typeof spec.model === "object" ? spec.model : {};
      Object.keys(static_).forEach(function (value) { select.appendChild(option(value, static_[value])); });
      keep(select, wanted, typeof spec.model === "string" ? " (loading names…)" : " (not an option)");
      return select;
    }
    if (spec.type === "boolean") {
      var box = el("input", {type: "checkbox", name: fieldName, id: id, value: "true"});
      box.checked = wanted === true || wanted === "true";
      return box;
    }
    var types = {number: "number", integer: "number", url: "url", password: "password"};
    var input = el("input", {type: types[spec.type] || "text", name: fieldName, id: id, className: "vTextField"});
    if (spec.type === "integer") {
      input.setAttribute("step", "1");
    } else if (spec.type === "number") {
      input.setAttribute("step", "any");
    }
    if (spec.placeholder) {
      input.setAttribute("placeholder", spec.placeholder);
    }
    input.value = wanted === undefined || wanted === null ? "" : String(wanted);
    return input;
  }

  // Selects `wanted`, adding it as an option when the list does not offer it,
  // so a stored value is never dropped just because the list is not loaded.
  function keep(select, wanted, note) {
    if (wanted === undefined || wanted === null || wanted === "") {
      select.value = "";
      return;
    }
    wanted = String(wanted);
    var known = Array.prototype.some.call(select.options, function (node) { return node.value === wanted; });
    if (!known) {
      select.appendChild(option(wanted, wanted + note));
    }
    select.value = wanted;
  }

  function fieldRow(action, name, wanted) {
    var spec = action.fields[name];
    var control = fieldControl(name, spec, wanted);
    var help = [spec.note || ""];
    var dynamic = spec.type === "select" && typeof spec.model === "string";
    if (dynamic) {
      control.dataset.selectModel = spec.model;
      help = ["Options come from " + action.component_title + " (" + spec.model + "). "];
      var reload = el("button", {type: "button", className: "button component-reload", text: "Reload options"});
      reload.addEventListener("click", function () { loadOptions(action, name, generation); });
      help.push(reload);
    }
    control.addEventListener("change", function () { fieldChanged(action); });
    return row(name, spec.label, control, help, spec.required);
  }

  function initialValues(action) {
    if (config.current === action.target && config.values) {
      var first = config.values;
      config.values = null; // only the first time this action is shown
      return first;
    }
    return readInput() || {};
  }

  function build(action) {
    var values = initialValues(action);
    panel.querySelector("#component-action-heading").textContent =
      "Component action: " + action.component_title + " · " + action.title;
    var description = panel.querySelector("#component-action-description");
    description.replaceChildren(
      (action.description ? action.description + " " : ""),
      "The chosen credential and values are saved into ", el("code", {text: "input"}),
      ", which the action reads when the schedule fires."
    );
    var rows = [credentialRow(action, values.credential)];
    Object.keys(action.fields).forEach(function (name) { rows.push(fieldRow(action, name, values[name])); });
    panel.querySelector("#component-action-fields").replaceChildren.apply(
      panel.querySelector("#component-action-fields"), rows
    );
    panel.querySelector("#component-action-metadata").replaceChildren();
    credentialChanged(action, true);
  }

  // --- select-model ---------------------------------------------------------
  function dynamicFields(action) {
    return Object.keys(action.fields).filter(function (name) {
      var spec = action.fields[name];
      return spec.type === "select" && typeof spec.model === "string";
    });
  }

  async function loadOptions(action, name, gen) {
    var select = controlOf(name);
    var status = statusOf(select);
    var spec = action.fields[name];
    var credential = credentialValue();
    if (!credential) {
      setStatus(status, "Choose a credential to load the options.", "");
      return;
    }
    if (!config.may_run) {
      setStatus(status, "You may not ask " + action.component_title + " for options (it needs the permission to run executions).", "error");
      return;
    }
    setStatus(status, "Loading " + spec.label.toLowerCase() + " options from " + action.component_title + "…", "busy");
    try {
      var options = await execute({
        component: action.component,
        method: "select_model",
        module: action.key,
        model_method: spec.model,
        credential: credential
      }, function (state) {
        if (gen === generation) {
          setStatus(status, "Loading " + spec.label.toLowerCase() + " options from " + action.component_title + "… (" + state + ")", "busy");
        }
      });
      if (gen !== generation) {
        return;
      }
      fill(select, options || {});
      var count = Object.keys(options || {}).length;
      setStatus(status, count + " option" + (count === 1 ? "" : "s") + " loaded from " + action.component_title + ".", "ok");
      loadMetadata(action);
    } catch (error) {
      if (gen === generation) {
        setStatus(status, "Could not load the options: " + error.message, "error");
      }
    }
  }

  function fill(select, options) {
    var wanted = select.value;
    select.replaceChildren(option("", "---------"));
    Object.keys(options).forEach(function (value) { select.appendChild(option(value, options[value])); });
    keep(select, wanted, " (not offered by the shop now)");
  }

  // --- dynamic metadata -----------------------------------------------------
  function typeText(prop) {
    var type = Array.isArray(prop.type) ? prop.type.join(" or ") : prop.type || "any";
    if (type === "array" && prop.items && prop.items.type) {
      type = "array of " + prop.items.type;
    }
    return type;
  }

  function notes(key, prop, required) {
    var parts = [];
    if (prop.title && prop.title !== key) {
      parts.push(prop.title);
    }
    if (required) {
      parts.push("required");
    }
    if (prop.const !== undefined) {
      parts.push("always " + JSON.stringify(prop.const));
    }
    if (Array.isArray(prop.enum)) {
      parts.push("one of: " + prop.enum.join(", "));
    }
    if (prop.description) {
      parts.push(prop.description);
    }
    return parts.join("; ");
  }

  function flatten(schema, prefix, rows) {
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    // Sorted: stored results come back from PostgreSQL's jsonb in its own key order.
    Object.keys(props).sort().forEach(function (key) {
      var prop = props[key] || {};
      var path = prefix ? prefix + "." + key : key;
      rows.push([path, typeText(prop), notes(key, prop, required.indexOf(key) >= 0)]);
      if (prop.properties) {
        flatten(prop, path, rows);
      }
      if (prop.items && prop.items.properties) {
        flatten(prop.items, path + "[]", rows);
      }
    });
    return rows;
  }

  function schemaTable(caption, schema) {
    var body = flatten(schema, "", []).map(function (cells) {
      return el("tr", {}, [el("td", {}, [el("code", {text: cells[0]})]), el("td", {text: cells[1]}), el("td", {text: cells[2]})]);
    });
    if (!body.length) {
      body = [el("tr", {}, [el("td", {colspan: "3", text: "no fields"})])];
    }
    return el("table", {className: "component-schema"}, [
      el("caption", {text: caption}),
      el("thead", {}, [el("tr", {}, [el("th", {text: "Field"}), el("th", {text: "Type"}), el("th", {text: "Notes"})])]),
      el("tbody", {}, body)
    ]);
  }

  function showMetadata(node, meta) {
    var parts = [el("h3", {text: "Metadata"})];
    if (meta && meta.in) {
      parts.push(schemaTable("What the action reads" + (meta.in.title ? ": " + meta.in.title : ""), meta.in));
    }
    if (meta && meta.out) {
      parts.push(schemaTable("What it writes" + (meta.out.title ? ": " + meta.out.title : ""), meta.out));
    }
    parts.push(el("details", {}, [el("summary", {text: "JSON schema"}), el("pre", {text: JSON.stringify(meta, null, 2)})]));
    node.replaceChildren.apply(node, parts);
  }

  async function loadMetadata(action) {
    if (!action.dynamic_metadata) {
      return;
    }
    var node = panel.querySelector("#component-action-metadata");
    var status = el("p", {className: "component-status", role: "status"});
    node.replaceChildren(el("h3", {text: "Metadata"}), status);
    var absent = missing(action);
    if (absent.length) {
      setStatus(status, "Choose " + absent.join(" and ") + " to see what the action reads and writes.", "");
      return;
    }
    if (!config.may_run) {
      setStatus(status, "You may not ask " + action.component_title + " for metadata.", "error");
      return;
    }
    var mine = ++metaGeneration;
    setStatus(status, "Asking " + action.component_title + " for the metadata…", "busy");
    try {
      var meta = await execute({
        component: action.component,
        method: "get_meta_model",
        module: action.key,
        credential: credentialValue(),
        cfg: fieldValues(action)
      }, function (state) {
        if (mine === metaGeneration) {
          setStatus(status, "Asking " + action.component_title + " for the metadata… (" + state + ")", "busy");
        }
      });
      if (mine === metaGeneration && action === current) {
        showMetadata(node, meta);
      }
    } catch (error) {
      if (mine === metaGeneration) {
        setStatus(status, "Could not read the metadata: " + error.message, "error");
      }
    }
  }

  // --- events ---------------------------------------------------------------
  function credentialChanged(action, initial) {
    generation += 1;
    metaGeneration += 1;
    var gen = generation;
    if (!initial) {
      mirror(action);
    }
    var dynamic = dynamicFields(action);
    panel.querySelector("#component-action-metadata").replaceChildren();
    dynamic.forEach(function (name) { loadOptions(action, name, gen); });
    if (!dynamic.length) {
      loadMetadata(action);
    } else if (!credentialValue()) {
      loadMetadata(action); // says what is missing
    }
  }

  function fieldChanged(action) {
    mirror(action);
    loadMetadata(action);
  }

  function show(target) {
    var action = config.actions[target] || null;
    if (action === current) {
      return;
    }
    current = action;
    generation += 1;
    metaGeneration += 1;
    panel.hidden = !action;
    panel.disabled = !action;
    if (action) {
      build(action);
    }
  }

  function offerTargets(target) {
    if (target.getAttribute("list")) {
      return;
    }
    var list = el("datalist", {id: "component-action-targets"});
    Object.keys(config.actions).forEach(function (name) {
      var action = config.actions[name];
      list.appendChild(el("option", {value: name, label: action.component_title + ": " + action.title}));
    });
    target.insertAdjacentElement("afterend", list);
    target.setAttribute("list", list.id);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("component-actions");
    var target = document.getElementById("id_target");
    panel = document.getElementById("component-action");
    if (!data || !target || !panel) {
      return;
    }
    config = JSON.parse(data.textContent);
    // Right after the fieldset holding `target`, where it belongs.
    var host = target.closest("fieldset");
    if (host) {
      host.insertAdjacentElement("afterend", panel);
    }
    offerTargets(target);
    function changed() { show(target.value.trim()); }
    target.addEventListener("input", changed);
    target.addEventListener("change", changed);
    changed();
  });
})();
