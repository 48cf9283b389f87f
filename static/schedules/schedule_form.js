/* Show only the fieldsets of the chosen schedule kind on the admin form.
 * Fieldsets carry a "kind-<value>" class (see ScheduleAdmin.fieldsets); the
 * server clears the fields of other kinds anyway, so this is only comfort. */
"use strict";
(function () {
  function toggle(select) {
    document.querySelectorAll("fieldset[class*='kind-']").forEach(function (fieldset) {
      var wanted = "kind-" + select.value;
      var mine = Array.prototype.some.call(fieldset.classList, function (name) {
        return name === wanted;
      });
      fieldset.hidden = select.value !== "" && !mine;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_kind");
    if (!select) {
      return;
    }
    select.addEventListener("change", function () {
      toggle(select);
    });
    toggle(select);
  });
})();
