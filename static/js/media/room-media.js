// Audio, video and screen sharing in the live room: the page's side of the contract
// with a media backend (mesh.js today, the media server's tomorrow).
//
// The server owns the truth. Its roster (#media-roster, refreshed over the room's
// stream like the people list) says who is present, who sends what, who is muted or
// invited; this script makes the page follow it:
// - its own tracks: it stops any the roster says are off (an instructor's mute, a
//   camera turned off, a share stopped, the stage taken away);
// - what it plays of others: only what the roster says is on, whatever arrives;
// - its connections: to whom the backend should be connected.
// Turning something on asks the server first (POST .../media/state), which refuses
// with a sentence when the rules say no; signals go out by POST and come in over the
// stream as "signal" events.
//
// Leaving, removal and the end of the meeting replace the room panel: when the stage
// element goes, every track stops and every connection closes.
(function () {
  "use strict";
  var S = window.LiveroomStrings;
  var M = window.LiveroomMedia;
  var KINDS = ["mic", "camera", "screen"];
  var current = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  function post(url, body, json) {
    // text/plain: a refusal comes back as the one sentence to show.
    var headers = { "X-CSRFToken": csrfToken(), "Accept": "text/plain" };
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: json ? JSON.stringify(body) : new URLSearchParams(body),
    }).then(function (response) {
      if (response.ok) return response;
      return response.text().then(function (text) {
        var error = new Error(text || String(response.status));
        error.status = response.status;
        throw error;
      });
    });
  }

  function Room(stage) {
    this.stageElement = stage;
    this.config = JSON.parse(stage.getAttribute("data-media"));
    this.me = Number(this.config.me);
    this.panel = stage.closest(".room-panel");
    this.notice = this.panel.querySelector("[data-media-notice]");
    this.bar = this.panel.querySelector("[data-media-bar]");
    this.tracks = { mic: null, camera: null, screen: null };
    this.remote = {};          // uid -> {mic, camera, screen} tracks received
    this.roster = null;
    this.previewed = false;
    this.devices = { mic: "", camera: "", speaker: "" };
    this.signalQueues = {};
    this.offElsewhere = {};    // kind -> when this person turned it off on another page
    this.stoppedElsewhere = {};  // kind -> when this page stopped it for that reason
    this.unexplained = {};     // kind -> the timer that will blame an instructor
    this.stage = new M.Stage(stage, this.me);
    var Backend = M.backends[this.config.backend];
    var self = this;
    this.backend = new Backend({
      me: this.me,
      ice: this.config.ice,
      fetchIce: function () { return self.fetchIce(); },
      janus: this.config.janus,
      onUnavailable: function () { self.mediaUnavailable(); },
      bitrates: this.config.bitrates,
      send: function (to, message) { return self.sendSignal(to, message); },
      onTrack: function (uid, kind, track) { self.remoteTrack(uid, kind, track); },
      onPeerState: function (uid, state) { self.peerState(uid, state); },
    });
    this.bindControls();
    // The server could not give this page a place on the media server just now.
    if (this.config.janus_down) this.mediaUnavailable();
    this.readRoster();
    this.levelTimer = setInterval(function () { self.measureLevels(); }, 300);
  }

  // --- The roster ----------------------------------------------------------------

  Room.prototype.readRoster = function () {
    var element = document.getElementById("media-roster");
    if (!element) return;
    var roster;
    try {
      roster = JSON.parse(element.getAttribute("data-roster"));
    } catch (error) {
      return;
    }
    this.applyRoster(roster);
  };

  Room.prototype.applyRoster = function (roster) {
    var before = this.roster;
    this.roster = roster;
    var people = {};
    roster.people.forEach(function (person) { people[person.uid] = person; });
    this.people = people;
    var mine = people[this.me];
    if (mine && !before) this.startMuted(mine);
    if (mine) this.followMyState(mine, before && before.people ? find(before.people, this.me) : null);
    // What each other person's tracks may play: only what the server says is on.
    var self = this;
    var onStage = roster.people.filter(function (person) {
      return person.mic || person.camera || person.screen || person.on_stage;
    });
    this.stage.update(onStage);
    Object.keys(this.remote).forEach(function (uid) { self.render(Number(uid)); });
    KINDS.forEach(function (kind) { self.render(self.me, kind); });
    this.backend.setWanted(this.wantedPeers());
    this.updateControls();
    if (!roster.mesh_ok && (this.tracks.mic || this.tracks.camera || this.tracks.screen)) {
      KINDS.forEach(function (kind) { self.stopLocal(kind, false); });
    }
    // What keeps media off, said until it changes: the media server out of reach,
    // or a meeting too large without it.
    var why = this.mediaDown ? S.say("mediaUnavailable") : roster.mesh_ok ? "" : S.say(roster.reason);
    this.say(why, true);
  };

  // The media server does not answer this page: say so until the page is replaced
  // (a meeting small enough moves to the mesh, and every page reads its panel again).
  Room.prototype.mediaUnavailable = function () {
    this.mediaDown = true;
    this.say(S.say("mediaUnavailable"), true);
  };

  function find(list, uid) {
    for (var i = 0; i < list.length; i++) if (list[i].uid === uid) return list[i];
    return null;
  }

  // Everyone present connects to everyone who publishes.
  Room.prototype.wantedPeers = function () {
    if (!this.roster || !this.roster.mesh_ok) return [];
    var mine = this.people[this.me];
    var publishing = mine && (mine.mic || mine.camera || mine.screen);
    return this.roster.people.filter(function (person) {
      return publishing || person.mic || person.camera || person.screen;
    }).map(function (person) { return person.uid; });
  };

  // A new page (a reload, a second tab) sends nothing yet: whatever the server still
  // lists as on from the page before is turned off, so the room starts muted.
  Room.prototype.startMuted = function (mine) {
    var self = this;
    KINDS.forEach(function (kind) {
      if (mine[kind] && !self.tracks[kind]) {
        mine[kind] = false;
        self.setState(kind, false).catch(function () {});
      }
    });
  };

  // The server turned something of ours off (or took a right away): stop it here too.
  Room.prototype.followMyState = function (mine, before) {
    var self = this;
    var backend = this.backend;
    this.tracksWereOn = !!this.tracks.mic;
    backend.setSending("mic", this.maySend("mic", mine));
    backend.setSending("camera", this.maySend("camera", mine));
    backend.setSending("screen", this.maySend("screen", mine));
    KINDS.forEach(function (kind) {
      // A roster drawn before our own "on" was stored may still arrive after it: what
      // we just turned on stays on until a roster has shown it on (or 5 s have passed).
      if (mine[kind]) delete self.pending[kind];
      var confirming = self.pending[kind] && Date.now() - self.pending[kind] < 5000;
      if (self.tracks[kind] && !mine[kind] && !confirming) {
        self.stopLocal(kind, false);
        var why = { mic: "mutedByInstructor", camera: "cameraStopped", screen: "shareStopped" }[kind];
        if (kind === "mic" && mine.strong_muted) why = "strongMuted";
        // Turned off by this person on another page of theirs (a second tab opening
        // starts muted): say that, not that an instructor did.
        if (self.offElsewhere[kind] && Date.now() - self.offElsewhere[kind] < 15000) {
          self.stoppedElsewhere[kind] = Date.now();
          why = elsewhere(self.stoppedElsewhere);
        } else if (why !== "strongMuted") {
          // The lists (and this roster) are read from the database as they are sent,
          // so they can show an "off" whose "media-self" is a moment behind: wait for
          // it briefly before saying an instructor did it (offOnAnotherPage).
          self.blameLater(kind, why);
          delete self.offElsewhere[kind];
          return;
        }
        delete self.offElsewhere[kind];
        self.say(S.say(why), false, why.indexOf("Elsewhere") === -1 && why !== "mediaElsewhere" ? "muted" : null);
      }
    });
    if (before) {
      if (!before.strong_muted && mine.strong_muted && !this.tracksWereOn) this.say(S.say("strongMuted"), false, "muted");
      if (before.strong_muted && !mine.strong_muted) this.say(S.say("mayUnmute"), false, "muted");
      if (!before.on_stage && mine.on_stage && this.roster.mode !== "everyone") this.say(S.say("invited"), false, "stage");
    }
  };

  // Say ``why`` (an instructor turned ``kind`` off) unless this person's other page
  // says within a moment that it was them (offOnAnotherPage).
  Room.prototype.blameLater = function (kind, why) {
    var self = this;
    clearTimeout(this.unexplained[kind]);
    this.unexplained[kind] = setTimeout(function () {
      delete self.unexplained[kind];
      self.say(S.say(why), false, "muted");
    }, 1500);
  };

  // The sentence for what went off on another page lately (its rosters may come
  // one kind at a time): one kind, the microphone and camera, or more.
  function elsewhere(stopped) {
    var kinds = KINDS.filter(function (kind) {
      return stopped[kind] && Date.now() - stopped[kind] < 15000;
    });
    if (kinds.length === 1) return kinds[0] + "Elsewhere";
    if (kinds.length === 2 && kinds.indexOf("screen") < 0) return "micCameraElsewhere";
    return "mediaElsewhere";
  }

  // Whether this side negotiates sending ``kind`` (its transceiver's direction).
  Room.prototype.maySend = function (kind, mine) {
    var roster = this.roster;
    if (!roster.mesh_ok) return false;
    var instructor = mine.rank !== "participant";
    if (!instructor && roster.mode !== "everyone" && !mine.on_stage) return false;
    if (kind === "mic") return !(mine.strong_muted && mine.rank !== "staff");
    if (kind === "screen") return instructor || mine.may_share;
    return true;
  };

  // --- Remote tracks ---------------------------------------------------------------

  Room.prototype.remoteTrack = function (uid, kind, track) {
    var tracks = this.remote[uid] || (this.remote[uid] = {});
    tracks[kind] = track;
    if (track) {
      var self = this;
      track.addEventListener("unmute", function () { self.render(uid, kind); });
    }
    this.render(uid, kind);
  };

  // A receiver plays only what the roster says is on (a strong-muted microphone
  // never): a modified browser that keeps sending gains nothing.
  Room.prototype.render = function (uid, kind) {
    if (!kind) {
      var self = this;
      KINDS.forEach(function (k) { self.render(uid, k); });
      return;
    }
    var person = this.people && this.people[uid];
    var track = uid === this.me ? (kind === "mic" ? null : this.tracks[kind]) : (this.remote[uid] || {})[kind];
    var on = person && (kind === "mic" ? person.mic && !person.strong_muted : person[kind]);
    this.stage.show(uid, kind, on && track ? track : null);
  };

  Room.prototype.peerState = function (uid, state) {
    var tile = this.stage.tiles[uid];
    if (tile) tile.element.classList.toggle("tile--connecting", state === "connecting" || state === "new");
    if (state === "closed") delete this.remote[uid];
  };

  Room.prototype.measureLevels = function () {
    // The media server's client knows whose each received track is; the mesh's
    // connections are one per person.
    var levels = this.backend.levels ? this.backend.levels() : {};
    var self = this;
    Object.keys(levels).forEach(function (uid) {
      var person = self.people && self.people[uid];
      if (!person || !person.mic || person.strong_muted) levels[uid] = 0;
    });
    Object.keys(this.backend.peers || {}).forEach(function (uid) {
      var pc = self.backend.peers[uid].pc;
      pc.getReceivers().forEach(function (receiver) {
        if (receiver.track && receiver.track.kind === "audio" && receiver.getSynchronizationSources) {
          receiver.getSynchronizationSources().forEach(function (source) {
            levels[uid] = Math.max(levels[uid] || 0, source.audioLevel || 0);
          });
        }
      });
      var person = self.people && self.people[uid];
      if (!person || !person.mic || person.strong_muted) levels[uid] = 0;
    });
    if (this.meter && this.tracks.mic) levels[this.me] = this.meter.level();
    this.stage.levels(levels);
  };

  // --- Signals -----------------------------------------------------------------------

  // One at a time per person, in order: a candidate must not overtake its offer.
  // This person's ICE servers with a TURN credential minted now (before an ICE restart).
  Room.prototype.fetchIce = function () {
    var url = this.config.ice_url + "?session=" + encodeURIComponent(this.config.session);
    return fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Accept": "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    });
  };

  Room.prototype.sendSignal = function (to, message) {
    var body = {
      session: this.config.session,
      to: to,
      connection: message.connection,
      description: message.description || null,
      candidate: message.candidate || null,
    };
    if (message.hello) body.hello = true;
    var url = this.config.signal_url;
    var previous = this.signalQueues[to] || Promise.resolve();
    var next = previous.catch(function () {}).then(function () { return post(url, body, true); });
    this.signalQueues[to] = next;
    return next;
  };

  // The person turned ``kind`` off on another page of theirs (the server says so
  // before the roster that shows it off).
  // That page only turns off what the server listed as on, so our own "on" was stored
  // before it: nothing is waiting for confirmation any more, and the latest roster (if
  // it already shows it off) is followed now rather than when the wait runs out.
  Room.prototype.offOnAnotherPage = function (kind) {
    if (KINDS.indexOf(kind) < 0) return;
    if (this.unexplained[kind]) {
      // Already stopped by a roster that came first: it was this person, not an
      // instructor.
      clearTimeout(this.unexplained[kind]);
      delete this.unexplained[kind];
      this.stoppedElsewhere[kind] = Date.now();
      this.say(S.say(elsewhere(this.stoppedElsewhere)), false, null);
      return;
    }
    this.offElsewhere[kind] = Date.now();
    if (this.pending) delete this.pending[kind];
    var mine = this.people && this.people[this.me];
    if (mine && this.tracks[kind] && !mine[kind]) {
      this.followMyState(mine, null);
      this.updateControls();
    }
  };

  Room.prototype.receiveSignal = function (data) {
    var message;
    try { message = JSON.parse(data); } catch (error) { return; }
    this.backend.receive(message);
  };

  // --- Own media: on, off, devices -----------------------------------------------

  Room.prototype.bindControls = function () {
    var self = this;
    this.pending = {};
    this.bar.querySelectorAll("[data-media-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        var kind = button.getAttribute("data-media-toggle");
        if (self.tracks[kind]) self.turnOff(kind); else self.turnOn(kind);
      });
    });
    var devicesButton = this.bar.querySelector("[data-media-devices]");
    if (devicesButton) devicesButton.addEventListener("click", function () { self.openDevices(false); });
  };

  // The toggles keep one name ("Microphone") whatever their state, which aria-pressed
  // carries (and, seen, the icon and the pressed look): a name that flipped with the
  // state ("Turn microphone on") would say the opposite of the pressed state.
  // aria-disabled (still focusable, and a press says why) while the rules would refuse.
  Room.prototype.updateControls = function () {
    var self = this;
    var mine = this.people && this.people[this.me];
    var roster = this.roster;
    this.bar.querySelectorAll("[data-media-toggle]").forEach(function (button) {
      var kind = button.getAttribute("data-media-toggle");
      var on = !!self.tracks[kind];
      button.querySelector("[data-label]").textContent = S.say(kind + "Toggle");
      button.setAttribute("aria-pressed", String(on));
      button.classList.toggle("is-on", on);
      var allowed = on || !roster || (roster.mesh_ok && (!mine || self.maySend(kind, mine)));
      button.setAttribute("aria-disabled", String(!allowed));
    });
    var empty = this.stageElement.querySelector("[data-stage-empty-text]");
    if (empty && roster && mine) {
      var waits = mine.rank === "participant" && roster.mode !== "everyone" && !mine.on_stage;
      empty.textContent = S.say(!roster.mesh_ok ? "stageTooLarge" : waits ? "stageAsk" : "stageEmpty");
    }
  };

  Room.prototype.turnOn = function (kind) {
    var self = this;
    if (kind !== "screen" && !this.previewed) {
      this.openDevices(kind);
      return;
    }
    this.pending[kind] = Date.now();
    var acquire = kind === "screen" ? this.captureScreen() : this.capture(kind);
    acquire.then(function (track) {
      return self.setState(kind, true).then(function () {
        self.pending[kind] = Date.now();
        self.useTrack(kind, track);
      }, function (error) {
        track.stop();
        throw error;
      });
    }).catch(function (error) {
      delete self.pending[kind];
      self.say(error.status ? error.message : self.deviceError(kind, error));
    }).finally(function () {
      self.updateControls();
    });
  };

  Room.prototype.useTrack = function (kind, track) {
    var self = this;
    this.tracks[kind] = track;
    track.addEventListener("ended", function () {
      if (self.tracks[kind] === track) self.turnOff(kind);
    });
    this.backend.setSending(kind, true);
    this.backend.setTrack(kind, track);
    if (kind === "mic") this.meter = new Meter(track);
    this.render(this.me, kind);
    this.updateControls();
    if (kind === "mic") this.say(S.say("youAreUnmuted"), false, "own");
    if (kind === "camera") this.say(S.say("cameraOnSelf"), false, "own");
    // If no roster has shown it on by then, the server has it off (a mute that came
    // first, say): follow the latest roster then.
    setTimeout(function () {
      var mine = self.people && self.people[self.me];
      if (mine && self.tracks[kind] === track) self.followMyState(mine, null);
    }, 5100);
  };

  Room.prototype.turnOff = function (kind) {
    this.stopLocal(kind, true);
    if (kind === "mic") this.say(S.say("youAreMuted"), false, "own");
    if (kind === "camera") this.say(S.say("cameraOffSelf"), false, "own");
  };

  // Stop our own ``kind``: the track ends and nothing goes to anyone.
  Room.prototype.stopLocal = function (kind, tellServer) {
    var track = this.tracks[kind];
    this.tracks[kind] = null;
    this.backend.setTrack(kind, null);
    if (track) track.stop();
    if (kind === "mic" && this.meter) { this.meter.close(); this.meter = null; }
    this.render(this.me, kind);
    this.updateControls();
    if (tellServer) this.setState(kind, false).catch(function () {});
  };

  Room.prototype.setState = function (kind, on) {
    return post(this.config.state_url, {
      session: this.config.session,
      kind: kind,
      on: on ? "1" : "0",
    }, false);
  };

  Room.prototype.capture = function (kind) {
    var constraints = kind === "mic"
      ? { audio: this.devices.mic ? { deviceId: { exact: this.devices.mic } } : true }
      : { video: cameraConstraints(this.devices.camera) };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      return stream.getTracks()[0];
    });
  };

  Room.prototype.captureScreen = function () {
    return navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 10, max: 15 } },
      audio: false,
    }).then(function (stream) {
      var track = stream.getVideoTracks()[0];
      if ("contentHint" in track) track.contentHint = "detail";
      return track;
    });
  };

  function cameraConstraints(deviceId) {
    var video = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 24 } };
    if (deviceId) video.deviceId = { exact: deviceId };
    return video;
  }

  Room.prototype.deviceError = function (kind, error) {
    if (kind === "screen") {
      return error && error.name === "NotAllowedError" ? S.say("screenCancelled") : S.say("failed", { device: "screen" });
    }
    var device = S.say(kind === "mic" ? "microphone" : "camera");
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return S.say("permissionDenied", { device: device });
    if (name === "NotFoundError" || name === "OverconstrainedError") return S.say("notFound", { device: device });
    if (name === "NotReadableError" || name === "AbortError") return S.say("inUse", { device: device });
    return S.say("failed", { device: device });
  };

  // --- Devices and the first preview ---------------------------------------------

  // The dialog: a camera preview and a live microphone level, and the choice of
  // devices. ``first``: the kind the person was turning on (preview before publish).
  Room.prototype.openDevices = function (first) {
    var dialog = this.panel.querySelector("[data-media-dialog]");
    if (!dialog) return;
    var self = this;
    var video = dialog.querySelector("video");
    var meterBar = dialog.querySelector("[data-level]");
    var error = dialog.querySelector("[data-dialog-error]");
    var confirm = dialog.querySelector("[data-dialog-confirm]");
    error.textContent = "";
    confirm.hidden = !first;
    var preview = { stream: null, meter: null, timer: null };

    function stopPreview() {
      if (preview.timer) clearInterval(preview.timer);
      if (preview.meter) preview.meter.close();
      if (preview.stream) preview.stream.getTracks().forEach(function (t) { t.stop(); });
      preview.stream = preview.meter = preview.timer = null;
      video.srcObject = null;
    }

    function start() {
      stopPreview();
      var constraints = {
        audio: self.devices.mic ? { deviceId: { exact: self.devices.mic } } : true,
        video: first === "mic" ? false : cameraConstraints(self.devices.camera),
      };
      return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
        preview.stream = stream;
        video.srcObject = stream.getVideoTracks().length ? new MediaStream(stream.getVideoTracks()) : null;
        video.hidden = !stream.getVideoTracks().length;
        var audio = stream.getAudioTracks()[0];
        if (audio) {
          preview.meter = new Meter(audio);
          preview.timer = setInterval(function () {
            meterBar.value = Math.round(preview.meter.level() * 100);
          }, 100);
        }
        return fillDevices(dialog, self.devices);
      }).catch(function (failure) {
        error.textContent = self.deviceError(first === "camera" ? "camera" : "mic", failure);
        return fillDevices(dialog, self.devices);
      });
    }

    dialog.querySelectorAll("select[data-device]").forEach(function (select) {
      select.onchange = function () {
        var which = select.getAttribute("data-device");
        self.devices[which] = select.value;
        if (which === "speaker") self.stage.setSink(select.value);
        else start();
      };
    });
    confirm.onclick = function () {
      self.previewed = true;
      dialog.close();
      self.turnOn(first);
    };
    dialog.onclose = stopPreview;
    dialog.showModal();
    start();
  };

  function fillDevices(dialog, chosen) {
    if (!navigator.mediaDevices.enumerateDevices) return Promise.resolve();
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var kinds = { mic: "audioinput", camera: "videoinput", speaker: "audiooutput" };
      Object.keys(kinds).forEach(function (which) {
        var select = dialog.querySelector("select[data-device='" + which + "']");
        if (!select) return;
        var field = select.closest("[data-device-field]");
        var found = devices.filter(function (d) { return d.kind === kinds[which]; });
        // Choosing a speaker needs setSinkId: not every browser has it.
        var supported = which !== "speaker" || "setSinkId" in HTMLMediaElement.prototype;
        if (field) field.hidden = !supported || !found.length;
        while (select.options.length) select.remove(0);
        found.forEach(function (device, index) {
          var option = new Option(device.label || (which + " " + (index + 1)), device.deviceId);
          select.add(option);
        });
        if (chosen[which]) select.value = chosen[which];
      });
    });
  }

  // A microphone's level, 0..1, from its waveform.
  function Meter(track) {
    var Context = window.AudioContext || window.webkitAudioContext;
    this.context = new Context();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 512;
    this.source.connect(this.analyser);
    this.buffer = new Float32Array(this.analyser.fftSize);
  }
  Meter.prototype.level = function () {
    this.analyser.getFloatTimeDomainData(this.buffer);
    var sum = 0;
    for (var i = 0; i < this.buffer.length; i++) sum += this.buffer[i] * this.buffer[i];
    return Math.min(1, Math.sqrt(sum / this.buffer.length) * 4);
  };
  Meter.prototype.close = function () {
    this.context.close().catch(function () {});
  };

  // --- Messages, and the end -----------------------------------------------------

  // A notice: a passing one ("Your microphone is on.") goes after a few seconds; a
  // sticky one (the mesh is full) stays until the roster says otherwise. The notice is
  // not itself live: the room's one live region (static/js/announce.js) speaks it, under
  // ``category`` (the person may have turned it off; null: always). "own" is the
  // result of one's own press, heard only after a keyboard shortcut (the pressed
  // button already says it to whoever pressed it).
  Room.prototype.say = function (text, sticky, category) {
    var announce = window.LiveroomAnnounce;
    if (announce && text && !(sticky && this.notice && this.notice.textContent === text)) {
      if (category === "own") announce.own(text); else announce.say(text, category || null);
    }
    if (!this.notice) return;
    if (sticky && !text && !this.notice.hasAttribute("data-sticky")) return;
    clearTimeout(this.noticeTimer);
    this.notice.textContent = text;
    this.notice.hidden = !text;
    if (sticky && text) {
      this.notice.setAttribute("data-sticky", "");
      return;
    }
    this.notice.removeAttribute("data-sticky");
    var notice = this.notice;
    var self = this;
    if (text) {
      this.noticeTimer = setTimeout(function () {
        if (notice.textContent !== text) return;
        notice.textContent = "";
        notice.hidden = true;
        if (self.roster && !self.roster.mesh_ok) self.say(S.say(self.roster.reason), true);
      }, 8000);
    }
  };

  Room.prototype.close = function () {
    clearInterval(this.levelTimer);
    clearTimeout(this.noticeTimer);
    for (var kind in this.unexplained) clearTimeout(this.unexplained[kind]);
    this.unexplained = {};
    var self = this;
    KINDS.forEach(function (kind) {
      var track = self.tracks[kind];
      self.tracks[kind] = null;
      if (track) track.stop();
    });
    if (this.meter) this.meter.close();
    this.backend.close();
  };

  // --- Wiring to the page ----------------------------------------------------------

  function start() {
    var stage = document.querySelector("[data-media]");
    if (current && current.stageElement === stage) return;
    if (current) { current.close(); current = null; }
    if (stage && window.RTCPeerConnection && navigator.mediaDevices) current = new Room(stage);
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:load", start);
  // The panel is replaced (leave, removal, end, a refresh): stop everything first.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (current && event.target === current.stageElement) {
      current.close();
      current = null;
    }
  });
  window.addEventListener("pagehide", function () {
    if (current) { current.close(); current = null; }
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (current && target && target.id === "media-roster") current.readRoster();
  });

  // The page's words arrived after the stage was drawn (strings.js): say them now.
  document.addEventListener("liveroom:strings", function () {
    if (current && current.roster) current.updateControls();
  });

  // Signals arrive on the room's own stream; after it reconnects, renegotiate.
  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.source;
    if (!source) return;
    if (!source.__liveroomSignals) {
      source.__liveroomSignals = true;
      source.addEventListener("signal", function (message) {
        if (current) current.receiveSignal(message.data);
      });
      source.addEventListener("media-self", function (message) {
        if (current) current.offOnAnotherPage(message.data);
      });
      source.__liveroomOpened = true;
      if (current && current.backend.hello) current.backend.hello();
      return;
    }
    if (current) current.backend.restart();
  });

  M.current = function () { return current; };
})();
