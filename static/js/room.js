// The live room's small behaviours: the event stream's resume point, chat niceties,
// and marking "you" in lists rendered once for everyone.
(function () {
  "use strict";

  // If the stream has to be opened anew (not the browser's own reconnect, which sends
  // Last-Event-ID by itself), resume after the last event this page received.
  var lastSeen = 0;
  document.addEventListener("htmx:sseMessage", function (event) {
    var id = parseInt(event.detail && event.detail.lastEventId, 10);
    if (id > lastSeen) lastSeen = id;
  });
  document.addEventListener("htmx:load", function () {
    if (window.htmx && !htmx.__liveroomEventSource) {
      htmx.__liveroomEventSource = true;
      htmx.createEventSource = function (url) {
        if (lastSeen) {
          url = url.replace(/([?&]last_event_id=)(\d+)/, function (all, key, id) {
            return key + Math.max(lastSeen, parseInt(id, 10));
          });
        }
        return new EventSource(url, { withCredentials: true });
      };
    }
  });

  // A person keeps at most five streams per meeting. When a newer tab displaces this
  // one, the server sends "displaced" (with what to show instead) and hangs up: close
  // the EventSource so it does not reconnect, and show "This room is open in another
  // tab" with its "Use the room here" button. (htmx:sseOpen reaches us for every
  // stream, the first one of a full page load included.)
  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.source;
    if (!source || source.__liveroomDisplaced) return;
    source.__liveroomDisplaced = true;
    source.addEventListener("displaced", function (message) {
      source.close();
      var meeting = document.getElementById("meeting");
      if (!meeting) return;
      htmx.swap(meeting, message.data, { swapStyle: "innerHTML" });
      var announcer = document.getElementById("meeting-announcer");
      if (announcer) announcer.textContent = LiveroomStrings.say("openElsewhere");
      var heading = document.getElementById("displaced-title");
      if (heading) heading.focus();
    });
  });

  function panel() { return document.querySelector(".room-panel[data-me]"); }

  // After anything changed: one element per id, "you" marked, chat scrolled, menus closed.
  function tidy() {
    var room = panel();
    if (!room) return;
    ["#people-list > li", "#chat-log > li", "#captions-log > li"].forEach(function (selector) {
      var seen = {};
      var items = room.querySelectorAll(selector);
      for (var i = items.length - 1; i >= 0; i--) {
        if (seen[items[i].id]) items[i].remove(); else seen[items[i].id] = true;
      }
    });
    var me = room.getAttribute("data-me");
    room.querySelectorAll("#people-list > li, #people-everyone-list li.person").forEach(function (li) {
      li.classList.toggle("is-me", li.getAttribute("data-user-id") === me);
    });
    syncRecipients(room);
  }

  // Instructors can write privately to any participant in the room.
  function syncRecipients(room) {
    var select = room.querySelector("select[data-private-options]");
    if (!select) return;
    var chosen = select.value;
    // A large room lists its top only: "Show everyone" adds the rest once loaded.
    var wanted = [];
    var listed = {};
    room.querySelectorAll("#people-list > li[data-role='participant'], #people-everyone-list li[data-role='participant']").forEach(function (li) {
      var id = li.getAttribute("data-user-id");
      if (listed[id]) return;
      listed[id] = true;
      wanted.push([id, li.getAttribute("data-name")]);
    });
    while (select.options.length > 1) select.remove(1);
    wanted.forEach(function (pair) {
      select.add(new Option(LiveroomStrings.say("privatelyTo", { name: pair[1] }), pair[0]));
    });
    select.value = wanted.some(function (p) { return p[0] === chosen; }) ? chosen : "";
  }

  // The stream replaces the whole people list (coalesced updates): a person's menu
  // that was open stays open, and keyboard focus stays on the same control.
  var keptInList = null;
  function controls(li) { return li.querySelectorAll("summary, button"); }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var list = event.detail && event.detail.target;
    if (!list || list.id !== "people-list") return;
    var open = list.querySelector("details[open]");
    var active = document.activeElement;
    var focusedLi = active && list.contains(active) ? active.closest("li") : null;
    keptInList = {
      open: open ? open.closest("li").id : null,
      focused: focusedLi ? focusedLi.id : null,
      index: focusedLi ? Array.prototype.indexOf.call(controls(focusedLi), active) : -1,
    };
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var list = event.detail && event.detail.target;
    if (!list || list.id !== "people-list" || !keptInList) return;
    var kept = keptInList;
    keptInList = null;
    var open = kept.open && document.getElementById(kept.open);
    var menu = open && open.querySelector("details");
    if (menu) menu.open = true;
    var focused = kept.focused && document.getElementById(kept.focused);
    if (focused) {
      var all = controls(focused);
      var target = all[kept.index] || all[0];
      if (target) target.focus();
    }
  });

  // Nothing someone else does moves your focus. When the stream (or a refresh of the
  // whole panel) replaces the element that has the focus (your hand button, the chat
  // box when chat is switched, an instructor's toggle, a "Lower" button in the hands),
  // focus goes back to the same element in the new content: by its id, else the
  // control at the same place, else the swapped region itself. A draft in the chat
  // box survives the swap. (The people list keeps its own, above: open menus too.)
  var keptFocus = null;
  function focusables(root) {
    return Array.prototype.slice.call(root.querySelectorAll(
      "a[href], button, input:not([type='hidden']), select, textarea, summary, [tabindex]"));
  }
  function keepFocus(event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    if (!target || !active || active === document.body || target.id === "people-list") return;
    if (target !== active && !target.contains(active)) return;
    keptFocus = {
      region: target.id,
      id: active.id,
      index: target === active ? -1 : focusables(target).indexOf(active),
      draft: active.tagName === "TEXTAREA" || (active.tagName === "INPUT" && active.type === "text") ? active.value : null,
    };
  }
  function restoreFocus() {
    var kept = keptFocus;
    keptFocus = null;
    var active = document.activeElement;
    if (!kept || (active && active !== document.body && active.isConnected)) return;
    var element = kept.id && document.getElementById(kept.id);
    var region = kept.region && document.getElementById(kept.region);
    if (!element && region) element = kept.index >= 0 ? focusables(region)[kept.index] : region;
    if (!element) return;
    if (kept.draft && "value" in element && !element.value) element.value = kept.draft;
    if (!element.matches("a[href], button, input, select, textarea, summary, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
  }
  document.addEventListener("htmx:beforeSwap", keepFocus);
  document.addEventListener("htmx:oobBeforeSwap", keepFocus);
  document.addEventListener("htmx:afterSwap", restoreFocus);
  document.addEventListener("htmx:oobAfterSwap", restoreFocus);

  var chatLog = null;
  var stickToBottom = true;
  document.addEventListener("htmx:oobBeforeSwap", function () {
    chatLog = document.getElementById("chat-log");
    if (chatLog) stickToBottom = chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 60;
  });
  document.addEventListener("htmx:afterSettle", afterChange);
  document.addEventListener("htmx:oobAfterSwap", afterChange);
  document.addEventListener("DOMContentLoaded", function () { afterChange(); scrollChat(true); });
  function afterChange() {
    tidy();
    scrollChat(stickToBottom);
    keepCaptions();
  }

  // Live captions: the log keeps its last lines (screen readers hear each as it is
  // added; removing old ones says nothing) and shows the newest, at the bottom.
  var CAPTION_LINES_KEPT = 40;
  function keepCaptions() {
    var log = document.getElementById("captions-log");
    if (!log) return;
    while (log.children.length > CAPTION_LINES_KEPT) log.removeChild(log.firstElementChild);
    log.scrollTop = log.scrollHeight;
  }
  function scrollChat(force) {
    var log = document.getElementById("chat-log");
    if (log && force) log.scrollTop = log.scrollHeight;
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "meeting") scrollChat(true);
  });

  // Chat: Enter sends, Shift+Enter is a new line; the form empties once it is sent.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (box.id !== "chat-body" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (box.value.trim()) box.form.requestSubmit();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form.hasAttribute || !form.hasAttribute("data-reset-on-success")) return;
    if (event.detail.successful) {
      var to = form.querySelector("select");
      var keep = to ? to.value : "";
      form.reset();
      if (to) to.value = keep;
      // The field keeps the focus, so the next message or caption line follows at once.
      var box = form.querySelector("textarea, input[type='text']");
      if (box) box.focus();
    }
  });

  // "Message privately" in a person's menu picks them in the composer.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-private-to]");
    if (button) {
      var select = document.getElementById("chat-to");
      if (select) select.value = button.getAttribute("data-private-to");
      var box = document.getElementById("chat-body");
      if (box) box.focus();
    }
    var menuItem = event.target.closest(".person-menu__panel button");
    if (menuItem) menuItem.closest("details").removeAttribute("open");
  });
})();
