// The campaign and automation forms: a live count under each SMS text (length, encoding,
// parts), asked of the box so the page and the sender count the same way.
(function () {
  "use strict";
  var form = document.querySelector("[data-sms-info]");
  if (!form) return;
  var url = form.getAttribute("data-sms-info");
  form.querySelectorAll("textarea[data-sms]").forEach(function (area) {
    var out = document.createElement("output");
    out.className = "sms-live";
    area.insertAdjacentElement("afterend", out);
    var timer = null;
    function update() {
      fetch(url + "?text=" + encodeURIComponent(area.value), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (info) {
          if (!info) return;
          out.textContent = info.summary;
          out.classList.toggle("status-error", info.too_long);
        })
        .catch(function () { /* offline from the box: the server checks on saving anyway */ });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(update, 200);
    });
    update();
  });
})();

// only the chosen channels' content is shown (and kept: the server drops the rest)
(function () {
  "use strict";
  document.querySelectorAll("input[type=checkbox][name=channels]").forEach(function (box) {
    var part = document.querySelector("fieldset.channel-" + box.value);
    if (!part) return;
    function show() { part.hidden = !box.checked; }
    box.addEventListener("change", show);
    show();
  });
})();

// the parameters box shows the chosen segment's own parameters as its placeholder
(function () {
  "use strict";
  var select = document.querySelector("select[name=segment]");
  var input = document.querySelector("input[data-segment-params]");
  if (!select || !input) return;
  function show() {
    var option = select.options[select.selectedIndex];
    input.placeholder = option ? option.getAttribute("data-params") || "" : "";
  }
  select.addEventListener("change", show);
  show();
})();

// the segments list and a campaign's audience: costly counts arrive after the page
(function () {
  "use strict";
  document.querySelectorAll("[data-count-url]").forEach(function (cell) {
    fetch(cell.getAttribute("data-count-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) cell.textContent = data.count.toLocaleString(document.documentElement.lang);
      })
      .catch(function () { /* the link to the segment's page stays */ });
  });
})();

// starting from a ready-made message reloads the page: ask first if something was written
(function () {
  "use strict";
  var starter = document.querySelector("form[data-starter-form]");
  var editor = document.querySelector("form[data-sms-info]");
  if (!starter || !editor) return;
  var typed = false;
  editor.addEventListener("input", function () { typed = true; });
  starter.addEventListener("submit", function (event) {
    if (typed && !window.confirm(starter.getAttribute("data-confirm"))) event.preventDefault();
  });
})();
