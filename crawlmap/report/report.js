// crawlmap execution report: filtering and sorting of the tables. No network, no data in here:
// everything it works on is already in the page. A large table (data-rows) has its rows as
// JSON in a <script type="application/json"> and is rendered here one page at a time; filter
// and sort work on all of its rows.
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

  var collator = typeof Intl !== "undefined" ? new Intl.Collator() : null;
  function compareText(a, b) { return collator ? collator.compare(a, b) : (a < b ? -1 : a > b ? 1 : 0); }

  function formatMs(value) {
    if (value === null || value === undefined) { return "\u2013"; }
    if (value < 1000) { return value.toLocaleString("en-US", { maximumFractionDigits: 0 }) + " ms"; }
    return (value / 1000).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " s";
  }

  // How a cell of each column kind (render.py's _paged_body) shows, and what it sorts by.
  function cellText(kind, value, index) {
    if (kind === "idx") { return String(index + 1); }
    if (kind === "ms") { return formatMs(value); }
    if (kind === "label") { return value === null ? "\u2013" : String(value[0]); }
    if (kind === "num") { return value === null || value === undefined ? "\u2013" : String(value); }
    return value === null || value === undefined ? "" : String(value);
  }

  function sortValue(kind, value, index) {
    if (kind === "idx") { return index; }
    if (kind === "label") { return value === null ? -1 : value[1]; }
    if (kind === "ms") { return value === null ? -1 : value; }
    if (kind === "num") { return typeof value === "number" ? value : (parseFloat(value) || 0); }
    return value === null || value === undefined ? "" : String(value);
  }

  function wirePaged(table, box) {
    var source = document.getElementById(table.getAttribute("data-rows"));
    var data = JSON.parse(source.textContent);
    var cols = data.cols, rows = data.rows, size = data.page;
    var position = [], next = 0;
    cols.forEach(function (kind) { position.push(kind === "idx" ? -1 : next++); });
    var badgeAt = cols.indexOf("badge");
    var urlColumn = table.getAttribute("data-url-column");
    var urlAt = urlColumn === null ? -1 : position[parseInt(urlColumn, 10)];
    var pager = document.querySelector('.pager[data-table="' + table.id + '"]');
    var range = pager.querySelector(".range");
    var prev = pager.querySelector('[data-page="prev"]'), nextButton = pager.querySelector('[data-page="next"]');
    var search = box && box.querySelector("input[type=search]");
    var buttons = box ? box.querySelectorAll("button[data-outcome]") : [];
    var counter = box && box.querySelector(".count");
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    var outcome = "all", needle = "", sortColumn = -1, ascending = true, page = 0;
    var haystacks = null, view = [];

    function value(row, column) { return position[column] < 0 ? null : row[position[column]]; }

    function haystack(index) {
      if (haystacks === null) { haystacks = new Array(rows.length); }
      var text = haystacks[index];
      if (text === undefined) {
        var parts = [];
        for (var c = 0; c < cols.length; c++) { parts.push(cellText(cols[c], value(rows[index], c), index)); }
        text = haystacks[index] = parts.join(" ").toLowerCase();
      }
      return text;
    }

    function refresh() {
      view = [];
      for (var i = 0; i < rows.length; i++) {
        if (outcome !== "all" && rows[i][position[badgeAt]] !== outcome) { continue; }
        if (needle && haystack(i).indexOf(needle) < 0) { continue; }
        view.push(i);
      }
      if (sortColumn >= 0) {
        var kind = cols[sortColumn], numeric = kind !== "url" && kind !== "badge" && kind !== "err" && kind !== "text";
        var keys = new Array(rows.length);
        view.forEach(function (i) { keys[i] = sortValue(kind, value(rows[i], sortColumn), i); });
        view.sort(function (a, b) {
          var cmp = numeric ? keys[a] - keys[b] : compareText(keys[a], keys[b]);
          return (ascending ? cmp : -cmp) || a - b;
        });
      }
      page = 0;
      render();
    }

    function render() {
      var body = table.tBodies[0];
      var fragment = document.createDocumentFragment();
      var pages = Math.max(1, Math.ceil(view.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      var first = page * size, last = Math.min(view.length, first + size);
      for (var v = first; v < last; v++) {
        var index = view[v], row = rows[index];
        var tr = document.createElement("tr");
        if (badgeAt >= 0) { tr.setAttribute("data-outcome", row[position[badgeAt]]); }
        if (urlAt >= 0) { tr.setAttribute("data-url", row[urlAt]); }
        for (var c = 0; c < cols.length; c++) {
          var kind = cols[c], td = document.createElement("td"), text = cellText(kind, value(row, c), index);
          if (kind === "badge") {
            var badge = document.createElement("span");
            badge.className = "badge " + text;
            badge.textContent = text;
            td.appendChild(badge);
          } else {
            td.textContent = text;
            if (kind === "url" || kind === "err") { td.className = kind; }
            else if (kind !== "text") { td.className = "num"; }
          }
          tr.appendChild(td);
        }
        fragment.appendChild(tr);
      }
      body.textContent = "";
      body.appendChild(fragment);
      var count = function (n) { return n.toLocaleString("en-US"); };
      range.textContent = view.length ? "rows " + count(first + 1) + "\u2013" + count(last) + " of " + count(view.length) : "no rows match";
      prev.disabled = page === 0;
      nextButton.disabled = last >= view.length;
      if (counter) { counter.textContent = count(view.length) + " of " + count(rows.length) + " shown"; }
      var wrap = table.parentNode;
      if (wrap && wrap.scrollTop) { wrap.scrollTop = 0; }
    }

    prev.addEventListener("click", function () { page -= 1; render(); });
    nextButton.addEventListener("click", function () { page += 1; render(); });
    Array.prototype.forEach.call(headers, function (th, column) {
      th.addEventListener("click", function () {
        ascending = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(headers, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
        sortColumn = column;
        refresh();
      });
    });
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        outcome = button.getAttribute("data-outcome");
        Array.prototype.forEach.call(buttons, function (b) { b.classList.toggle("active", b === button); });
        refresh();
      });
    });
    if (search) { search.addEventListener("input", function () { needle = search.value.toLowerCase(); refresh(); }); }
    refresh();
  }

  document.querySelectorAll("table.sortable:not([data-rows])").forEach(makeSortable);
  document.querySelectorAll(".toolbar[data-table]").forEach(function (box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    if (table && table.hasAttribute("data-rows")) { wirePaged(table, box); } else { wireFilter(box); }
  });
  if (window.performance && performance.mark) { performance.mark("report-ready"); }
  document.documentElement.setAttribute("data-report-ready", "true");
})();
