// The live room on a phone: the stage, the chat and the people are three tabs. On a
// wider screen there are no tabs and all three areas show side by side, so this script
// gives the areas their tab roles only while the screen is narrow, and takes them
// away again when it widens. Without it, a phone shows the three areas one under the
// other. The room panel is swapped by htmx (a refresh, a role change): the tab chosen
// is remembered for the page, and the new panel is set up when htmx loads it.
(function () {
  "use strict";

  // The same width as the stylesheet's "@media (max-width: 48rem)" for the room.
  var phone = window.matchMedia("(max-width: 48rem)");
  var chosen = "stage";

  function lists(root) {
    var found = [];
    if (root.matches && root.matches("[data-room-tabs]")) found.push(root);
    if (root.querySelectorAll) {
      root.querySelectorAll("[data-room-tabs]").forEach(function (list) { found.push(list); });
    }
    return found;
  }

  function tabsOf(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[role='tab']"));
  }

  function areaOf(tab) {
    return document.getElementById(tab.getAttribute("aria-controls"));
  }

  // Show the chosen tab's area on a phone; every area, and no tab roles, otherwise.
  function apply(list) {
    var narrow = phone.matches;
    var tabs = tabsOf(list);
    if (!tabs.some(function (tab) { return tab.getAttribute("data-tab") === chosen; })) {
      chosen = tabs.length ? tabs[0].getAttribute("data-tab") : chosen;
    }
    list.hidden = !narrow;
    tabs.forEach(function (tab) {
      var selected = tab.getAttribute("data-tab") === chosen;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected) news(tab, false);
      var area = areaOf(tab);
      if (!area) return;
      if (narrow) {
        area.setAttribute("role", "tabpanel");
        area.setAttribute("aria-labelledby", tab.id);
        area.hidden = !selected;
      } else {
        area.removeAttribute("role");
        area.removeAttribute("aria-labelledby");
        area.hidden = false;
      }
    });
  }

  function select(list, name, focus) {
    chosen = name;
    apply(list);
    var tab = list.querySelector("[data-tab='" + name + "']");
    if (focus && tab) tab.focus();
    // A chat log that was hidden could not keep its place: show its newest message.
    if (name === "chat") {
      var log = document.getElementById("chat-log");
      if (log) log.scrollTop = log.scrollHeight;
    }
  }

  // A dot on a tab whose area changed while another one was shown.
  function news(tab, on) {
    var mark = tab && tab.querySelector("[data-tab-news]");
    if (mark) mark.hidden = !on;
  }

  function setUp(list) {
    apply(list);
    if (list.__liveroomTabs) return;
    list.__liveroomTabs = true;
    list.addEventListener("click", function (event) {
      var tab = event.target.closest("[role='tab']");
      if (tab && list.contains(tab)) select(list, tab.getAttribute("data-tab"), true);
    });
    // Arrow keys move along the tabs (mirrored in a right-to-left page), Home and End
    // go to the first and the last; a tab is shown as soon as it has the focus.
    list.addEventListener("keydown", function (event) {
      var tabs = tabsOf(list);
      var index = tabs.indexOf(event.target);
      if (index < 0) return;
      var step = getComputedStyle(list).direction === "rtl" ? -1 : 1;
      var next = null;
      if (event.key === "ArrowRight") next = index + step;
      else if (event.key === "ArrowLeft") next = index - step;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      next = (next + tabs.length) % tabs.length;
      select(list, tabs[next].getAttribute("data-tab"), true);
    });
  }

  function setUpAll(root) {
    lists(root || document).forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.detail && event.detail.elt); });
  phone.addEventListener("change", function () { setUpAll(document); });

  // "Message privately" in the People tab writes in the Chat tab: show it first, so
  // that the message box can take the focus (room.js moves it there).
  document.addEventListener("click", function (event) {
    if (!phone.matches || !event.target.closest("[data-private-to]")) return;
    var list = document.querySelector("[data-room-tabs]");
    if (list) select(list, "chat", false);
  }, true);

  // News in a hidden area: a chat message, a hand going up.
  var handsBefore = 0;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    var hands = target.id === "hands-list" ? target.querySelectorAll(".hands__item").length : -1;
    // Only for those who act on hands (their list has a "Lower" button on each).
    var moreHands = hands > handsBefore && !!target.querySelector("button");
    if (hands >= 0) handsBefore = hands;
    var list = document.querySelector("[data-room-tabs]");
    if (!phone.matches || !list) return;
    var tab = null;
    if (target.id === "chat-log") tab = list.querySelector("[data-tab='chat']");
    else if (moreHands) tab = list.querySelector("[data-tab='people']");
    if (tab && tab.getAttribute("aria-selected") !== "true") news(tab, true);
  });
})();
