// crawlmap execution report: filtering and sorting of the tables. No network, no data in here:
// everything it works on is already in the page.
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-sort");
    return raw !== null ? raw : cell.textContent.trim();
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.addEventListener("click", function () {
        var ascending = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
        var numeric = th.classList.contains("num");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var cmp = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
          return ascending ? cmp : -cmp;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function wireFilter(box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    if (!table) { return; }
    var search = box.querySelector("input[type=search]");
    var buttons = box.querySelectorAll("button[data-outcome]");
    var counter = box.querySelector(".count");
    var outcome = "all";
    function apply() {
      var needle = (search && search.value || "").toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var matchesOutcome = outcome === "all" || row.getAttribute("data-outcome") === outcome;
        var matchesText = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
        var visible = matchesOutcome && matchesText;
        row.classList.toggle("hidden", !visible);
        if (visible) { shown += 1; }
      });
      if (counter) { counter.textContent = shown + " of " + table.tBodies[0].rows.length + " shown"; }
    }
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        outcome = button.getAttribute("data-outcome");
        Array.prototype.forEach.call(buttons, function (b) { b.classList.toggle("active", b === button); });
        apply();
      });
    });
    if (search) { search.addEventListener("input", apply); }
    apply();
  }

  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll(".toolbar[data-table]").forEach(wireFilter);
  document.documentElement.setAttribute("data-report-ready", "true");
})();
