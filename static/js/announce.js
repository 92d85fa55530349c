// The room's one polite live region (#meeting-announcer in rooms/_meeting.html), and
// everything that speaks through it. Screen readers hear a short sentence for what
// others did: a chat message, a hand raised (instructors), people joining or leaving,
// being muted by an instructor, being invited onto the stage, the meeting ending.
//
// Who says what: the server's sentences (arrivals and departures, already grouped by
// the hub's coalesced flush: "3 people joined."; the room locked; the meeting ended)
// come in the person's language into the hidden #announce-inbox (live/render.py
// ``_announce``, rooms/_announce.html), each with its category. Chat messages and
// raised hands are read from the swapped DOM here (the author's own message is never
// announced to them), in words from the catalogue (LiveroomStrings). What a person
// hears depends on their own switches (Account page, #room-prefs): filtered here.
//
// No flooding: announcements wait a moment and go out together (a burst of chat
// becomes "5 new messages in the chat."), one at most every ANNOUNCE_GAP ms, each
// capped at MAX_LENGTH characters. Nothing one does oneself is announced, except the
// effect of a keyboard shortcut (static/js/shortcuts.js), whose button has no focus.
(function () {
  "use strict";

  var CATEGORIES = ["chat", "hands", "people", "muted", "stage", "ended"];
  var COALESCE = 700;
  var ANNOUNCE_GAP = 1500;
  var MAX_LENGTH = 200;
  var MAX_CHAT_ONE_BY_ONE = 2;

  var queue = [];
  var timer = null;
  var lastAt = 0;

  function S() { return window.LiveroomStrings; }
  function region() { return document.getElementById("meeting-announcer"); }
  function prefs() { return document.getElementById("room-prefs"); }

  // The categories this person turned off (Account page; "" means none), as the room
  // panel last said: once it has gone (the meeting ended) its word still holds.
  var lastOff = [];
  function isOff(category) {
    var element = prefs();
    if (element) lastOff = (element.getAttribute("data-announcements-off") || "").split(",");
    return !!category && lastOff.indexOf(category) !== -1;
  }

  function clip(text, length) {
    text = String(text).replace(/\s+/g, " ").trim();
    return text.length > length ? text.slice(0, length - 1).trimEnd() + "…" : text;
  }

  // Queue ``text`` (already in the page's language) under ``category`` (null: always).
  function say(text, category) {
    if (!text || isOff(category)) return;
    queue.push({ category: category || null, text: String(text) });
    schedule();
  }

  // The result of one's own action, spoken only just after a keyboard shortcut asked
  // for it (``expectOwn``): a press on the button itself is heard from the button.
  var ownUntil = 0;
  var ownKind = null;
  function expectOwn(kind, ms) {
    ownKind = kind;
    ownUntil = Date.now() + (ms || 15000);
  }
  function own(text, kind) {
    if (Date.now() > ownUntil || (kind && ownKind && kind !== ownKind)) return;
    ownUntil = 0;
    say(text, null);
  }

  function schedule() {
    if (timer) return;
    var wait = Math.max(COALESCE, lastAt + ANNOUNCE_GAP - Date.now());
    timer = setTimeout(flush, wait);
  }

  function flush() {
    timer = null;
    var items = queue;
    queue = [];
    var chats = items.filter(function (item) { return item.category === "chat"; });
    var sentences = [];
    var chatDone = false;
    items.forEach(function (item) {
      if (item.category === "chat") {
        if (chatDone) return;
        chatDone = true;
        if (chats.length > MAX_CHAT_ONE_BY_ONE) sentences.push(S().say("newMessages", { n: chats.length }));
        else chats.forEach(function (chat) { sentences.push(chat.text); });
      } else if (sentences.indexOf(item.text) === -1) {
        sentences.push(item.text);
      }
    });
    var text = clip(sentences.filter(Boolean).join(" "), MAX_LENGTH);
    var element = region();
    if (!text || !element) return;
    lastAt = Date.now();
    // Emptied first, so the same sentence twice in a row is heard twice.
    element.textContent = "";
    setTimeout(function () { element.textContent = text; }, 50);
  }

  // --- What the server sends: facts (or a sentence) dropped into #announce-inbox ----

  function fromInbox(item) {
    var room = panel();
    var about = item.getAttribute("data-about");
    if (about && room && about === room.getAttribute("data-me")) return;  // one's own entry
    say(item.textContent, item.getAttribute("data-category") || null);
  }

  function readInbox(inbox) {
    Array.prototype.slice.call(inbox.children).forEach(function (item) {
      item.remove();
      fromInbox(item);
    });
  }

  var watched = null;
  function watchInbox() {
    var inbox = document.getElementById("announce-inbox");
    if (!inbox || inbox === watched) return;
    watched = inbox;
    new MutationObserver(function () { readInbox(inbox); }).observe(inbox, { childList: true });
    readInbox(inbox);
  }

  // --- What the page sees arrive: chat messages, raised hands -----------------------

  function panel() { return document.querySelector(".room-panel[data-me]"); }

  var seenMessages = {};
  var handsUp = null;

  function handsNow() {
    var now = {};
    document.querySelectorAll("#hands-list li[data-user-id]").forEach(function (li) {
      now[li.getAttribute("data-user-id")] = li.getAttribute("data-name");
    });
    return now;
  }

  // A new panel (first load, a refresh, a role change): what it shows is not news.
  function remember() {
    seenMessages = {};
    document.querySelectorAll("#chat-log > li").forEach(function (li) { seenMessages[li.id] = true; });
    handsUp = handsNow();
    isOff(null);
  }

  function newMessages() {
    var room = panel();
    if (!room) return;
    var me = room.getAttribute("data-me");
    document.querySelectorAll("#chat-log > li").forEach(function (li) {
      if (seenMessages[li.id]) return;
      seenMessages[li.id] = true;
      if (li.getAttribute("data-author-id") === me) return;
      var name = li.querySelector(".message__meta bdi");
      var body = li.querySelector(".message__body");
      say(S().say("chatFrom", {
        name: name ? clip(name.textContent, 60) : "",
        text: body ? clip(body.textContent, 120) : "",
      }), "chat");
    });
  }

  function newHands() {
    var room = panel();
    var before = handsUp || {};
    handsUp = handsNow();
    if (!room || room.getAttribute("data-moderates") !== "true") return;
    Object.keys(handsUp).forEach(function (uid) {
      if (!before[uid]) say(S().say("raisedHand", { name: handsUp[uid] }), "hands");
    });
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "chat-log") newMessages();
    else if (target.id === "hands-list") newHands();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "meeting") remember();
    watchInbox();
  });
  document.addEventListener("DOMContentLoaded", function () {
    remember();
    watchInbox();
  });

  window.LiveroomAnnounce = { say: say, own: own, expectOwn: expectOwn, categories: CATEGORIES, isOff: isOff };
})();
