"use strict";
// Copy buttons and sortable columns; the page is whole without this script.
window.addEventListener("error", function (e) { document.body.dataset.error = String(e.message); });
document.querySelectorAll("button.copy").forEach(function (b) {
  b.addEventListener("click", function () {
    var text = b.getAttribute("data-copy");
    var done = function () { b.classList.add("done"); b.textContent = "copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { select(b); });
    } else { select(b); }
  });
});
// Where the clipboard is refused (a file:// page in some browsers): select the command instead.
function select(b) {
  var code = b.parentNode.querySelector("code");
  var r = document.createRange(); r.selectNodeContents(code);
  var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
}
function sortBy(table, col, dir) {
  var th = table.tHead.rows[0].cells[col];
  var num = th.getAttribute("data-type") === "num";
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
    var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
    return dir === "ascending" ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", dir);
}
document.querySelectorAll("table.sortable").forEach(function (table) {
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener("click", function () {
      var first = th.getAttribute("data-type") === "num" ? "descending" : "ascending";
      var now = th.getAttribute("aria-sort");
      sortBy(table, col, now ? (now === "ascending" ? "descending" : "ascending") : first);
    });
  });
});
// A link can name a sort: report.html#sort=requests (or #sort=requests-ascending).
(function () {
  var m = /^#sort=([a-z %0-9]+?)(?:-(ascending|descending))?$/.exec(location.hash);
  var table = document.getElementById("upstream-table");
  if (!m || !table) return;
  var name = decodeURIComponent(m[1]);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    if (th.textContent === name) sortBy(table, col, m[2] || (th.getAttribute("data-type") === "num" ? "descending" : "ascending"));
  });
})();
document.body.dataset.ready = "1";
