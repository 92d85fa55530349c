// Times in the viewer's own time zone. The server writes every time in UTC inside
// <time datetime="…Z" data-local="time|seconds|datetime|date"> (what people see without
// JavaScript); this rewrites the text with Intl.DateTimeFormat in the browser's zone and
// the page's language (<html lang>, the one the person reads), on load and after every
// htmx swap (chat messages arrive by themselves).
(function () {
  "use strict";

  var OPTIONS = {
    time: { hour: "2-digit", minute: "2-digit" },
    seconds: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    date: { year: "numeric", month: "short", day: "numeric" }
  };
  var formatters = {};
  // The page's language ("es", "ar"): its month names, digits and hour style.
  var language = document.documentElement.getAttribute("lang") || undefined;

  function formatter(kind, withZone) {
    var key = kind + (withZone ? "+zone" : "");
    if (!formatters[key]) {
      var options = {};
      for (var name in OPTIONS[kind]) options[name] = OPTIONS[kind][name];
      if (withZone) options.timeZoneName = "short";
      try {
        formatters[key] = new Intl.DateTimeFormat(language, options);
      } catch (error) {  // a language tag this browser does not know: its own
        formatters[key] = new Intl.DateTimeFormat(undefined, options);
      }
    }
    return formatters[key];
  }

  // "EST", "CET" or "GMT-5": the short name of the viewer's zone at that moment.
  function zoneName(date) {
    var parts = formatter("time", true).formatToParts(date);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") return parts[i].value;
    }
    return "";
  }

  function each(root, selector, fn) {
    if (root.matches && root.matches(selector)) fn(root);
    if (root.querySelectorAll) root.querySelectorAll(selector).forEach(fn);
  }

  function localize(root) {
    if (!root || typeof Intl === "undefined") return;
    each(root, "time[data-local]", function (el) {
      var kind = el.getAttribute("data-local");
      var iso = el.getAttribute("datetime");
      var date = new Date(iso);
      if (!OPTIONS[kind] || isNaN(date.getTime())) return;
      el.textContent = formatter(kind, el.hasAttribute("data-zone")).format(date);
      // Hovering shows the moment in UTC, as the CSV files write it.
      if (!el.title) el.title = iso.replace("T", " ").replace("Z", " UTC");
    });
    each(root, "[data-local-zone]", function (el) {
      var iso = el.getAttribute("data-local-zone");
      var date = iso ? new Date(iso) : new Date();
      var name = zoneName(isNaN(date.getTime()) ? new Date() : date);
      if (name) el.textContent = name;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document.body); });
  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });
})();
