// The stage: a tile for each person who publishes or was invited onto it, in a grid or
// with the active speaker large. Tiles are made here, not by htmx, because a <video>
// must survive the list updates around it; their words come from the roster the
// server sends (names are set as text, never as HTML).
(function () {
  "use strict";
  var S = window.LiveroomStrings;

  function Stage(root, me) {
    this.root = root;
    this.me = Number(me);
    this.list = root.querySelector("[data-stage-tiles]");
    this.empty = root.querySelector("[data-stage-empty]");
    this.tiles = {};
    this.pinned = null;
    this.speaker = null;
    this.layout = "grid";
    var self = this;
    root.querySelectorAll("[data-layout]").forEach(function (button) {
      button.addEventListener("click", function () { self.setLayout(button.getAttribute("data-layout")); });
    });
    this.list.addEventListener("click", function (event) {
      var pin = event.target.closest("[data-pin]");
      if (pin) self.togglePin(Number(pin.getAttribute("data-pin")));
    });
  }

  Stage.prototype.setLayout = function (layout) {
    this.layout = layout === "speaker" ? "speaker" : "grid";
    this.list.setAttribute("data-layout", this.layout);
    var current = this.layout;
    this.root.querySelectorAll("[data-layout]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-layout") === current));
    });
    this.arrange();
  };

  Stage.prototype.togglePin = function (uid) {
    this.pinned = this.pinned === uid ? null : uid;
    this.arrange();
  };

  // ``people``: the roster's stage entries; ``media`` gives each one's tracks to show.
  Stage.prototype.update = function (people) {
    var seen = {};
    var self = this;
    people.forEach(function (person) {
      seen[person.uid] = true;
      var tile = self.tiles[person.uid] || self.make(person);
      self.describe(tile, person);
    });
    Object.keys(this.tiles).forEach(function (uid) {
      if (!seen[uid]) {
        self.tiles[uid].element.remove();
        delete self.tiles[uid];
        if (self.pinned === Number(uid)) self.pinned = null;
      }
    });
    this.empty.hidden = people.length > 0;
    this.arrange();
  };

  Stage.prototype.make = function (person) {
    var li = document.createElement("li");
    li.className = "tile";
    li.setAttribute("data-uid", person.uid);
    li.innerHTML =
      '<div class="tile__media">' +
      '<span class="tile__initials" aria-hidden="true"></span>' +
      '<video class="tile__video" autoplay playsinline muted hidden></video>' +
      '<video class="tile__screen" autoplay playsinline muted hidden></video>' +
      "</div>" +
      '<div class="tile__bar">' +
      '<span class="tile__mic" aria-hidden="true"><span class="i"></span></span>' +
      '<span class="tile__name"></span>' +
      '<span class="tile__hand" hidden><span class="i i--hand" aria-hidden="true"></span></span>' +
      '<button type="button" class="tile__pin"></button>' +
      "</div>" +
      '<audio class="tile__audio" autoplay></audio>';
    this.list.appendChild(li);
    var tile = {
      element: li,
      video: li.querySelector(".tile__video"),
      screen: li.querySelector(".tile__screen"),
      audio: li.querySelector(".tile__audio"),
      person: person,
    };
    this.tiles[person.uid] = tile;
    return tile;
  };

  Stage.prototype.describe = function (tile, person) {
    tile.person = person;
    var li = tile.element;
    var mine = person.uid === this.me;
    var name = mine ? S.say("you") : person.name;
    li.querySelector(".tile__initials").textContent = person.initials;
    li.querySelector(".tile__name").textContent = name;
    var mic = li.querySelector(".tile__mic .i");
    mic.className = "i " + (person.mic ? "i--mic" : "i--mic-off");
    li.querySelector(".tile__hand").hidden = !person.hand;
    li.classList.toggle("tile--me", mine);
    var pin = li.querySelector(".tile__pin");
    pin.setAttribute("data-pin", person.uid);
    var pinned = this.pinned === person.uid;
    pin.setAttribute("aria-pressed", String(pinned));
    pin.textContent = S.say(pinned ? "unpin" : "pin", { name: name });
    this.label(tile);
  };

  // The tile's name for screen readers: the person, then their state, "Sam Lee,
  // microphone off, camera off, speaking" (the tile is a list item: read as one).
  Stage.prototype.label = function (tile) {
    var person = tile.person;
    var name = person.uid === this.me ? S.say("you") : person.name;
    var parts = [name, person.mic ? S.say("micOnState") : S.say("micMutedState")];
    if (!person.camera) parts.push(S.say("cameraOffState"));
    if (person.screen) parts.push(S.say("sharingState"));
    if (person.hand) parts.push(S.say("handRaised"));
    if (tile.speaking) parts.push(S.say("speaking"));
    var label = parts.join(", ");
    if (tile.element.getAttribute("aria-label") !== label) tile.element.setAttribute("aria-label", label);
  };

  // The tracks to show on a tile (null: none); the caller decides what a receiver plays.
  Stage.prototype.show = function (uid, kind, track) {
    var tile = this.tiles[uid];
    if (!tile) return;
    if (kind === "mic") {
      attach(tile.audio, track);
      tile.element.classList.toggle("tile--no-audio", !track);
      return;
    }
    var element = kind === "camera" ? tile.video : tile.screen;
    attach(element, track);
    element.hidden = !track;
    tile.element.classList.toggle("tile--" + kind, !!track);
    this.arrange();
  };

  // Who is speaking now (user id -> level 0..1): a ring on their tile, and the largest
  // place in the speaker layout for the loudest, held a moment so it does not flicker.
  Stage.prototype.levels = function (levels) {
    var loudest = null;
    var highest = 0.02;
    var self = this;
    Object.keys(this.tiles).forEach(function (uid) {
      var level = levels[uid] || 0;
      var tile = self.tiles[uid];
      var speaking = level > 0.02;
      tile.element.classList.toggle("tile--speaking", speaking);
      if (tile.speaking !== speaking) {
        tile.speaking = speaking;
        self.label(tile);
      }
      if (level > highest) { highest = level; loudest = Number(uid); }
    });
    var now = Date.now();
    if (loudest !== null && (loudest !== this.speaker)) {
      if (!this.speakerSince || now - this.speakerSince > 1500) {
        this.speaker = loudest;
        this.speakerSince = now;
        if (this.layout === "speaker") this.arrange();
      }
    }
  };

  Stage.prototype.arrange = function () {
    var uids = Object.keys(this.tiles).map(Number);
    // The main tile: a pin, else a screen being shared, else the active speaker.
    var main = this.pinned;
    var self = this;
    if (main === null) {
      uids.forEach(function (uid) {
        if (main === null && self.tiles[uid].element.classList.contains("tile--screen")) main = uid;
      });
    }
    if (main === null && this.layout === "speaker") main = this.speaker;
    if (main === null && this.layout === "speaker" && uids.length) main = uids[0];
    uids.forEach(function (uid) {
      var tile = self.tiles[uid];
      tile.element.classList.toggle("tile--main", uid === main);
      var pin = tile.element.querySelector(".tile__pin");
      var pinned = self.pinned === uid;
      pin.setAttribute("aria-pressed", String(pinned));
      var name = uid === self.me ? S.say("you") : tile.person.name;
      pin.textContent = S.say(pinned ? "unpin" : "pin", { name: name });
    });
    this.list.classList.toggle("stage__tiles--has-main", main !== null);
    this.list.setAttribute("data-count", String(Math.min(uids.length, 9)));
  };

  Stage.prototype.setSink = function (deviceId) {
    var self = this;
    Object.keys(this.tiles).forEach(function (uid) {
      var audio = self.tiles[uid].audio;
      if (audio.setSinkId) audio.setSinkId(deviceId).catch(function () {});
    });
  };

  function attach(element, track) {
    var current = element.srcObject && element.srcObject.getTracks()[0];
    if (current === track) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      var played = element.play();
      if (played && played.catch) played.catch(function () {});
    }
  }

  window.LiveroomMedia = window.LiveroomMedia || { backends: {} };
  window.LiveroomMedia.Stage = Stage;
})();
