// The live room's keyboard shortcuts, and the dialog that lists them ("?").
//
// Why Alt+Shift with a letter (docs/accessibility.md has the long version):
// - Single letters (Jitsi's M, V, R, C) are what screen readers take in browse mode
//   for quick navigation (NVDA and JAWS: H heading, B button, E edit, F form field,
//   M frame, L list, C combo box, P paragraph; VoiceOver's Quick Nav likewise): the
//   page would never see them there, and they would fire by surprise in focus mode.
// - Ctrl+Shift with a letter (Teams) collides with the browsers: Chrome's Ctrl+Shift+M
//   (profiles), +O (bookmarks), +B, +N, +T, +W, +J, +I, +C; Firefox's Ctrl+Shift+P
//   (private window), +K (console), +M (responsive view), +H (history), +B, +O.
// - Alt alone with a letter (Zoom's Alt+A, Alt+V, Alt+H) opens the browser's menus
//   on Windows (Firefox: Alt+F, E, V, S, B, T, H) and Chrome's Alt+D, Alt+F, Alt+E.
// - Alt+Shift with a letter (BigBlueButton's choice) is free in Chrome and Firefox
//   for the letters below (avoided: Chrome's Alt+Shift+I feedback, +T toolbar, +A
//   dialogs, +B bookmarks bar; Firefox uses Alt+Shift only for a page's accesskeys,
//   and this page declares none), is not a modifier NVDA, JAWS (Insert, Caps Lock)
//   or VoiceOver (Ctrl+Option) take, and, being a chord, works while typing in the
//   chat box. Matched by physical key (event.code), so on a Mac Option+Shift+M works
//   though it would type "Â".
// - "?" alone opens the list, as in Gmail, GitHub and Jitsi, but never in a text box.
// WCAG 2.1.4: "?" is a single-character shortcut, so every shortcut can be switched
// off, in the dialog and on the Account page (user.shortcuts_on, #room-prefs).
(function () {
  "use strict";

  var KEYS = { KeyM: "mic", KeyV: "camera", KeyH: "hand", KeyC: "chat", KeyP: "people" };

  function S() { return window.LiveroomStrings; }
  function A() { return window.LiveroomAnnounce; }
  function panel() { return document.querySelector(".room-panel[data-me]"); }
  function dialog() { return document.getElementById("shortcuts-dialog"); }

  function enabled() {
    var prefs = document.getElementById("room-prefs");
    return !prefs || prefs.getAttribute("data-shortcuts") !== "off";
  }

  function typing(element) {
    if (!element || !element.tagName) return false;
    if (element.isContentEditable) return true;
    var tag = element.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (element.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].indexOf(type) === -1;
  }

  // A modal dialog is open (the devices, or this list): its keys are its own.
  function modalOpen() {
    return Array.prototype.some.call(document.querySelectorAll("dialog[open]"), function (d) {
      return d.matches(":modal");
    });
  }

  // On a phone the chat and the people are tabs: choose the tab first.
  function showArea(name) {
    var tabs = document.querySelector("[data-room-tabs]");
    var tab = document.getElementById("room-tab-" + name);
    if (tabs && !tabs.hidden && tab && tab.getAttribute("aria-selected") !== "true") tab.click();
  }

  var pendingHand = null;

  function act(what, room) {
    var say = function (key) { A().say(S().say(key), null); };
    if (what === "mic" || what === "camera") {
      var toggle = room.querySelector('[data-media-toggle="' + what + '"]');
      if (!toggle) { say("notNow"); return; }
      A().expectOwn(what, 60000);
      toggle.click();
    } else if (what === "hand") {
      var hand = document.getElementById("my-hand");
      if (!hand) { say("noHandForInstructors"); return; }
      pendingHand = hand.getAttribute("aria-pressed");
      A().expectOwn("hand");
      hand.click();
    } else if (what === "chat") {
      showArea("chat");
      var box = document.getElementById("chat-body");
      if (box) { box.focus(); return; }
      var log = document.getElementById("chat-log");
      if (log) log.focus();
      say("chatClosed");
    } else if (what === "people") {
      showArea("people");
      var heading = document.getElementById("participants-title");
      if (!heading) return;
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // The hand's new state comes back on the stream (rooms/_my_hand.html, swapped).
  document.addEventListener("htmx:oobAfterSwap", function () {
    if (pendingHand === null) return;
    var hand = document.getElementById("my-hand");
    if (!hand || hand.getAttribute("aria-pressed") === pendingHand) return;
    pendingHand = null;
    A().own(S().say(hand.getAttribute("aria-pressed") === "true" ? "handRaisedSelf" : "handLoweredSelf"), "hand");
  });

  var opener = null;
  function openDialog() {
    var box = dialog();
    if (!box || box.open) return;
    opener = document.activeElement;
    box.showModal();
    var heading = box.querySelector("h2");
    if (heading) heading.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey) return;
    var room = panel();
    if (!room || !enabled() || modalOpen()) return;
    if (event.altKey && event.shiftKey && KEYS[event.code]) {
      event.preventDefault();
      act(KEYS[event.code], room);
    } else if (event.key === "?" && !event.altKey && !typing(event.target)) {
      event.preventDefault();
      openDialog();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-open-shortcuts]")) openDialog();
  });

  // Closed (Escape, or Close): focus goes back to where it was when it opened.
  document.addEventListener("close", function (event) {
    if (event.target !== dialog()) return;
    var back = opener;
    opener = null;
    if (back && back.isConnected && back !== document.body) back.focus();
  }, true);
})();
