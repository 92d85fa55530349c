// Liveroom's small page behaviours that HTMX does not cover. No inline scripts: this
// file is loaded by every page, so the Content-Security-Policy can forbid them.
(function () {
  "use strict";

  // The page's words (static/js/media/strings.js, loaded first).
  function say(key, values) { return window.LiveroomStrings.say(key, values); }

  // A connection problem is shown once, and cleared by the next answer that gets through.
  var statusBox = null;
  function showConnectionProblem(text) {
    statusBox = statusBox || document.getElementById("connection-status");
    if (!statusBox) return;
    statusBox.textContent = text;
    statusBox.hidden = false;
  }
  function clearConnectionProblem() {
    if (statusBox && !statusBox.hidden) statusBox.hidden = true;
  }
  document.addEventListener("htmx:sendError", function () {
    showConnectionProblem(say("connectionLost"));
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500) showConnectionProblem(say("serverProblem"));
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    clearConnectionProblem();
    // An action that worked takes away the error an earlier one left in the room.
    var target = event.detail.target;
    if (target && target.id === "room-error" && event.detail.xhr.status === 204) {
      target.textContent = "";
    }
  });

  // Live streams. The server sends "refresh" and then hangs up when a person's place in
  // the room changes: closing the EventSource on "refresh" ends it cleanly. A stream that
  // breaks for real says so in the page, not as "[object Event]" in the console
  // (htmx-ext-sse logs whatever its error handler receives), and the notice goes away
  // when the stream is back.
  var leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });

  function watchErrors(source) {
    // htmx-ext-sse assigns source.onerror; keep its handler here instead of on the
    // EventSource, and call it only when it has work to do.
    var handler = null;
    Object.defineProperty(source, "onerror", {
      configurable: true,
      get: function () { return handler; },
      set: function (fn) { handler = fn; }
    });
    source.addEventListener("error", function () {
      if (leaving) return;
      showConnectionProblem(say("liveInterrupted"));
      // While the browser reconnects by itself there is nothing for the extension to do;
      // once the browser gave up (CLOSED), the extension's back-off opens a new stream.
      if (handler && source.readyState === EventSource.CLOSED) {
        handler.call(source, "Live updates stopped; opening the stream again.");
      }
    });
    return source;
  }
  if (window.htmx) {
    // room.js installs its own factory later: the setter keeps it, the getter wraps it.
    var makeEventSource = htmx.createEventSource;
    Object.defineProperty(htmx, "createEventSource", {
      configurable: true,
      get: function () {
        var make = makeEventSource ||
          function (url) { return new EventSource(url, { withCredentials: true }); };
        return function (url) { return watchErrors(make(url)); };
      },
      set: function (fn) { makeEventSource = fn; }
    });
  }
  document.addEventListener("htmx:sseOpen", function (event) {
    clearConnectionProblem();
    if (event.detail && event.detail.source) event.target.__liveroomSource = event.detail.source;
  });
  document.addEventListener("sse:refresh", function (event) {
    var owner = event.target.closest && event.target.closest("[sse-connect]");
    if (owner && owner.__liveroomSource) owner.__liveroomSource.close();
  });

  // When a swap removed the element that had focus (the Start button, say), put focus
  // on the new content's heading instead of dropping it to the top of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "meeting") return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var heading = target.querySelector("[tabindex='-1']");
    if (heading) heading.focus();
  });

  // Drop-down menus (<details>): Escape or a click elsewhere closes them, as people expect.
  function closeMenus(except) {
    document.querySelectorAll("details.user-menu[open], details.person-menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.user-menu, details.person-menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = event.target.closest && event.target.closest("details[open]");
    if (menu) {
      menu.removeAttribute("open");
      var toggle = menu.querySelector("summary");
      if (toggle) toggle.focus();
    }
  });

  // Copy a room link: the Clipboard API where the page is secure, selection otherwise.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) return;
    var done = function () {
      var label = button.firstChild;
      var original = label.textContent;
      label.textContent = say("copied");
      announce(say("linkCopied"));
      setTimeout(function () { label.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { selectField(field); });
    } else {
      selectField(field);
      try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: the person can copy */ }
    }
  });
  function selectField(field) { field.focus(); field.select(); }
  function announce(text) {
    var region = document.getElementById("meeting-announcer");
    if (region) region.textContent = text;
  }

  // Say goodbye when the page goes away, so the others see us leave within seconds.
  // A reload sends it too; the server waits a moment for the reloaded page's heartbeat.
  window.addEventListener("pagehide", function () {
    var panel = document.querySelector(".room-panel[data-leave-url]");
    if (!panel || !navigator.sendBeacon) return;
    var form = new FormData();
    form.append("csrf_token", csrfToken());
    navigator.sendBeacon(panel.getAttribute("data-leave-url"), form);
  });
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
    catch (e) { return ""; }
  }
})();
