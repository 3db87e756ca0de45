// Adjudication page keyboard flow and selection-to-offsets. No inline script (CSP).
// j / k: next / previous decision point; 1-9: pick a version of the focused point;
// a: accept the picked version (or the link); r: reject (focuses the reason, which is required).
(function () {
  "use strict";

  function points() {
    return Array.prototype.slice.call(document.querySelectorAll("#review .point[data-key]"));
  }

  function focusedPoint() {
    var active = document.activeElement;
    return active && active.closest ? active.closest(".point[data-key]") : null;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function move(step) {
    var list = points();
    if (!list.length) return;
    var current = list.indexOf(focusedPoint());
    var next = current === -1 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, current + step));
    list[next].focus();
    list[next].scrollIntoView({ block: "nearest" });
  }

  // Remember the focused point across htmx swaps, so j/k continue where the reviewer was.
  var lastKey = null;
  document.addEventListener("focusin", function () {
    var point = focusedPoint();
    if (point) lastKey = point.getAttribute("data-key");
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!lastKey) return;
    var list = points();
    var again = list.filter(function (p) { return p.getAttribute("data-key") === lastKey; })[0];
    var firstOpen = list.filter(function (p) { return p.classList.contains("status-open"); })[0];
    var target = firstOpen || again;
    if (target) target.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (!document.getElementById("review")) return;
    var key = event.key;
    if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
      return;
    }
    var point = focusedPoint();
    if (!point) return;
    if (/^[1-9]$/.test(key)) {
      var radio = point.querySelector('.accept-form input[name="version"][value="' + key + '"]');
      if (radio) {
        event.preventDefault();
        radio.checked = true;
      }
    } else if (key === "a") {
      var accept = point.querySelector(".accept-form .accept-button");
      if (accept) {
        event.preventDefault();
        accept.click();
      }
    } else if (key === "r") {
      var details = point.querySelector("details.more-actions");
      if (details) details.open = true;
      var reason = point.querySelector('.reject-form input[name="reason"]');
      if (reason) {
        event.preventDefault();
        reason.focus();
      }
    }
  });

  // Code-point offset of a DOM position inside a lane: segments carry their code-point start.
  function codePointOffset(node, offset) {
    var element = node.nodeType === 3 ? node.parentElement : node;
    var segment = element && element.closest ? element.closest(".seg") : null;
    if (!segment) return null;
    var before = document.createRange();
    before.selectNodeContents(segment);
    before.setEnd(node, offset);
    // Array.from counts code points, not UTF-16 units: emoji and astral characters count once.
    return parseInt(segment.getAttribute("data-start"), 10) + Array.from(before.toString()).length;
  }

  document.addEventListener("mouseup", function (event) {
    var lane = event.target.closest ? event.target.closest(".lane-text") : null;
    var form = document.getElementById("add-form");
    if (!lane || !form) return;
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    var range = selection.getRangeAt(0);
    var start = codePointOffset(range.startContainer, range.startOffset);
    var end = codePointOffset(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return;
    form.querySelector('input[name="start"]').value = start;
    form.querySelector('input[name="end"]').value = end;
  });
})();
