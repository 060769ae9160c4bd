// The counter screen: follows the box's counter event stream and shows each tap at a glance.
// Everything from the server is put on the page with textContent, never as HTML: member names
// and rewards are typed by people and must stay text.
(function () {
  "use strict";

  // the words on the screen, in the shop's language: the page hands them over (data-texts)
  var TEXTS = {
    labels: {
      stamped: "Stamped",
      cooldown: "Already stamped",
      unknown_card: "Unknown card — enrol",
      voucher: "Voucher",
      redeemed: "Redeemed",
      refused: "Refused",
      enrolled: "Enrolled",
    },
    // the history column is narrow: shorter words there
    short: { cooldown: "Cooldown", unknown_card: "Unknown card" },
    customer: "Customer",
    count: "{count} of {needed}",
    full: "card full!",
    unlocked: "Unlocked: {rewards}",
    waiting: "Rewards waiting",
    birthday_gift: "Birthday gift",
    until: "until {day}",
    redeem: "Redeem {reward}",
    card: "Card {uid}",
    enrol_card: "Enrol card {uid}",
    no_answer: "The box did not answer. Check the network and try again.",
    live: "live",
    reconnecting: "reconnecting…",
    offline: "offline — reloading",
  };
  var LABELS = TEXTS.labels;
  // statuses a notice can have besides the tap outcomes
  var NOTICE_STATUSES = { info: true, error: true };
  var LANG;
  var ZONE;  // the shop's time zone (IANA name), from the page
  var HISTORY_LENGTH = 8;
  // above this many stamps a row of dots is no longer readable at a glance: text only
  var MAX_DOTS = 30;

  var latest, historyList, notice, live, enrolSlot, printer;
  var current = null;
  var noticeTimer = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  // "{n} of {m}" with its fields filled in; a field missing from the values stays as it is
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  // a moment as the shop's clock shows it (data-zone), whatever zone the tablet is set to
  function time(iso) {
    var moment = iso ? new Date(iso) : new Date();
    var options = { hour: "2-digit", minute: "2-digit" };
    if (ZONE) options.timeZone = ZONE;
    try {
      return moment.toLocaleTimeString(LANG, options);
    } catch (err) {  // a zone name this browser does not know: its own clock
      return moment.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
    }
  }

  // a voucher's last valid day: the server works it out in the shop's zone (valid_through,
  // a plain date; the end itself is the exclusive midnight after it), so it is read as UTC
  function lastDay(voucher) {
    var through = new Date(voucher.valid_through + "T00:00:00Z");
    return through.toLocaleDateString(LANG, { day: "numeric", month: "short", timeZone: "UTC" });
  }

  function statusClass(status) {
    return "status-" + (LABELS[status] || NOTICE_STATUSES[status] ? status : "refused");
  }

  function stampRow(event) {
    var card = event.card;
    var needed = card.stamps_needed;
    // a completed card restarts at 0; show it full, the moment the customer earned it
    var full = event.unlocked.length > 0 && card.stamps === 0;
    var count = full ? needed : card.stamps;
    var box = el("div", "card-state");
    if (needed <= MAX_DOTS) {
      var row = el("div", "stamps");
      row.setAttribute("aria-hidden", "true");
      for (var i = 0; i < needed; i++) {
        row.appendChild(el("span", i < count ? "stamp on" : "stamp"));
      }
      box.appendChild(row);
    }
    var text = fill(TEXTS.count, { count: count, needed: needed }) + (full ? " — " + TEXTS.full : "");
    box.appendChild(el("p", "stamp-count", text));
    return box;
  }

  function voucherList(vouchers, highlight) {
    var list = el("ul", "vouchers");
    vouchers.forEach(function (v) {
      var item = el("li", v.code === highlight ? "voucher scanned" : "voucher");
      if (v.kind === "birthday") {
        item.classList.add("birthday");
        item.appendChild(el("span", "gift-kind", TEXTS.birthday_gift));
      }
      item.appendChild(el("span", "reward", v.reward));
      item.appendChild(el("span", "until", fill(TEXTS.until, { day: lastDay(v) })));
      var form = fromTemplate("redeem-template");
      form.elements.code.value = v.code;
      form.querySelector("button").setAttribute("aria-label", fill(TEXTS.redeem, { reward: v.reward }));
      item.appendChild(form);
      list.appendChild(item);
    });
    return list;
  }

  function renderLatest(event) {
    latest.className = "latest " + statusClass(event.status);
    latest.replaceChildren();
    var word = LABELS[event.status] || event.status;
    if (event.status === "stamped" && event.stamps_added > 1) word += " +" + event.stamps_added;
    latest.appendChild(el("p", "status-word", word));
    if (event.member) {
      latest.appendChild(el("h1", "member-name", event.member.name || TEXTS.customer));
    }
    latest.appendChild(el("p", "message", event.message));
    if (event.card) latest.appendChild(stampRow(event));
    if (event.unlocked && event.unlocked.length) {
      var rewards = event.unlocked.map(function (v) { return v.reward; }).join(", ");
      latest.appendChild(el("p", "unlocked", fill(TEXTS.unlocked, { rewards: rewards })));
    }
    if (event.vouchers && event.vouchers.length) {
      latest.appendChild(el("h2", "vouchers-title", TEXTS.waiting));
      latest.appendChild(voucherList(event.vouchers, event.voucher && event.voucher.code));
    } else if (event.voucher && event.status !== "voucher") {
      var line = event.voucher.reward + " · " + event.voucher.code;
      latest.appendChild(el("p", "voucher-line", line));
    }
    if (event.status === "unknown_card" && event.enrol) {
      var uid = event.enrol.nfc_uid || event.enrol.card_code;
      latest.appendChild(el("p", "uid", fill(TEXTS.card, { uid: uid })));
      if (event.enrol.nfc_uid) offerEnrolment(event.enrol.nfc_uid);
    } else {
      var open = enrolSlot.querySelector("form");
      if (open && !inUse(open)) closeEnrolment();
    }
    latest.appendChild(el("p", "when", time(event.at) + " · " + (event.source || "")));
  }

  // staff are filling it in: something typed, or the cursor in one of its fields
  function inUse(form) {
    if (form.contains(document.activeElement)) return true;
    return Array.prototype.some.call(form.elements, function (field) {
      return field.tagName === "INPUT" && field.type !== "hidden" && field.value !== "";
    });
  }

  function closeEnrolment() {
    enrolSlot.replaceChildren();
    enrolSlot.hidden = true;
  }

  // The enrolment form sits beside the taps, so the next customer's tap does not wipe what
  // staff are typing; an untouched offer gives way to the next tap.
  function offerEnrolment(uid) {
    var open = enrolSlot.querySelector("form");
    if (open && (open.elements.card_uid.value === uid || inUse(open))) return;
    var form = fromTemplate("enrol-template");
    form.elements.card_uid.value = uid;
    form.querySelector(".cancel").addEventListener("click", closeEnrolment);
    enrolSlot.replaceChildren(el("h2", null, fill(TEXTS.enrol_card, { uid: uid })), form);
    enrolSlot.hidden = false;
  }

  function addHistory(event) {
    var item = el("li", statusClass(event.status));
    item.appendChild(el("span", "when", time(event.at)));
    var label = TEXTS.short[event.status] || LABELS[event.status] || event.status;
    item.appendChild(el("span", "pill", label));
    item.appendChild(el("span", "text", event.message));
    historyList.insertBefore(item, historyList.firstChild);
    while (historyList.children.length > HISTORY_LENGTH) {
      historyList.removeChild(historyList.lastChild);
    }
  }

  function show(event) {
    if (current) addHistory(current);
    current = event;
    renderLatest(event);
    // the backlog a fresh screen starts with is shown, not sounded
    if (!event.replay) play(event.signal);
  }

  // -- the screen's sound: the bridge's beep patterns, for a counter without a buzzer --------
  // Browsers start sound only after a click on the page, so it is switched on by a button
  // (remembered on this screen) and the first click anywhere wakes it after a reload.
  var SOUNDS = {};
  var audio = null;
  var soundOn = false;
  var soundButton;

  function wakeAudio() {
    if (!audio) {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      audio = new Context();
    }
    if (audio.state === "suspended") audio.resume();
  }

  function showSound() {
    soundButton.setAttribute("aria-pressed", soundOn ? "true" : "false");
    soundButton.textContent = soundOn ? soundButton.dataset.on : soundButton.dataset.off;
  }

  function toggleSound() {
    soundOn = !soundOn;
    if (soundOn) wakeAudio();
    try {
      window.localStorage.setItem("stampbox-sound", soundOn ? "on" : "off");
    } catch (err) { /* private mode: not remembered */ }
    showSound();
  }

  function play(signal) {
    var beeps = SOUNDS[signal];
    if (!soundOn || !audio || !beeps) return;
    var at = audio.currentTime + 0.02;
    beeps.forEach(function (beep) {
      var tone = audio.createOscillator();
      var volume = audio.createGain();
      tone.type = "square";
      tone.frequency.value = beep[0];
      volume.gain.value = 0.08;
      tone.connect(volume);
      volume.connect(audio.destination);
      tone.start(at);
      tone.stop(at + beep[1] / 1000);
      at += beep[1] / 1000 + 0.05;
    });
    soundButton.dataset.played = signal;
  }

  function say(message, status) {
    notice.textContent = message;
    notice.className = "notice " + statusClass(status);
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.hidden = true; }, 10000);
  }

  function setLive(state, text) {
    live.dataset.state = state;
    live.textContent = text;
  }

  // Forms marked data-fetch post in the background so the screen (and its stream) stays put;
  // the result also arrives as a counter event when it is one.
  function submit(e) {
    var form = e.target;
    if (!form.hasAttribute("data-fetch")) return;
    // a button that opens its own page (the signup slip) submits the plain way
    if (e.submitter && e.submitter.hasAttribute("formtarget")) return;
    e.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    // a second button may post elsewhere (print the signup slip): its formaction wins
    var action = e.submitter && e.submitter.hasAttribute("formaction")
      ? e.submitter.formAction : form.action;
    var enrolling = form.classList.contains("enrol") && action === form.action;
    fetch(action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        // not JSON: the session ended and we were sent to the login page
        if (type.indexOf("application/json") !== 0) return window.location.reload();
        return response.json().then(function (data) {
          say(data.message || data.error, data.status);
          if (response.ok && enrolling) closeEnrolment();
        });
      })
      .catch(function () {
        say(TEXTS.no_answer, "refused");
      })
      .finally(function () { button.disabled = false; });
  }

  // data-text-paper-out -> dataset.textPaperOut
  function textKey(status) {
    return "text" + String(status).split("_").map(function (part) {
      return part.charAt(0).toUpperCase() + part.slice(1);
    }).join("");
  }

  function showCount(selector, template, count) {
    var line = printer.querySelector(selector);
    line.textContent = template.replace("{n}", String(count));
    line.hidden = !count;
  }

  // slips the bridge stopped on, each with its two buttons (a plain form post: the page reloads)
  function showToCheck(jobs) {
    var list = printer.querySelector(".to-check");
    var template = document.getElementById("settle-template");
    if (!list || !template) return;
    var shown = Array.prototype.map.call(list.children, function (li) { return li.dataset.job; });
    var wanted = jobs.map(function (job) { return String(job.id); });
    if (shown.join(",") === wanted.join(",")) return;
    list.replaceChildren();
    jobs.forEach(function (job) {
      var item = el("li");
      item.dataset.job = String(job.id);
      var label = job.title + " (" + fill(list.dataset.label, { n: job.id }) + ")";
      item.appendChild(el("span", null, label));
      var form = template.content.firstElementChild.cloneNode(true);
      form.action = form.getAttribute("action").replace(/\/0\/settle$/, "/" + job.id + "/settle");
      item.appendChild(form);
      list.appendChild(item);
    });
  }

  // the bridge's report on the printer (sent when it changes): state, slips waiting, last slip
  function showPrinter(state) {
    if (!printer) return;
    var texts = printer.dataset;
    texts.status = state.status;
    printer.classList.toggle("alert", Boolean(state.alert));
    printer.querySelector(".printer-status").textContent =
      texts[textKey(state.status)] || texts.textUnknown;
    showCount(".printer-waiting", texts.textWaiting, state.waiting);
    showCount(".printer-unsure", texts.textUnsure, state.unsure);
    showToCheck(state.to_check || []);
    if (state.last_slip) {
      var figure = printer.querySelector(".last-slip");
      var img = figure.querySelector("img");
      var src = texts.slipUrl + "?v=" + encodeURIComponent(state.last_slip.version);
      if (img.getAttribute("src") !== src) img.setAttribute("src", src);
      figure.hidden = false;
    }
  }

  function follow(url) {
    var source = new EventSource(url);
    source.addEventListener("open", function () { setLive("live", TEXTS.live); });
    source.addEventListener("tap", function (e) { show(JSON.parse(e.data)); });
    source.addEventListener("printer", function (e) { showPrinter(JSON.parse(e.data)); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // the server refused the stream (logged out, box restarting): start over in a moment
        setLive("offline", TEXTS.offline);
        setTimeout(function () { window.location.reload(); }, 5000);
      } else {
        setLive("connecting", TEXTS.reconnecting);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("counter");
    if (root.dataset.texts) {
      var given = JSON.parse(root.dataset.texts);
      Object.keys(given).forEach(function (key) { TEXTS[key] = given[key]; });
      LABELS = TEXTS.labels;
    }
    LANG = document.documentElement.lang || undefined;
    ZONE = root.dataset.zone || undefined;
    if (root.dataset.sounds) SOUNDS = JSON.parse(root.dataset.sounds);
    soundButton = document.getElementById("sound");
    soundButton.addEventListener("click", toggleSound);
    try {
      soundOn = window.localStorage.getItem("stampbox-sound") === "on";
    } catch (err) { soundOn = false; }
    if (soundOn) {
      wakeAudio();
      document.addEventListener("click", wakeAudio, { once: true });
    }
    showSound();
    latest = document.getElementById("latest");
    historyList = document.getElementById("history");
    notice = document.getElementById("notice");
    live = document.getElementById("live");
    enrolSlot = document.getElementById("enrol");
    printer = document.getElementById("printer");
    document.addEventListener("submit", submit);
    follow(root.dataset.stream);
  });
})();
