// Meetings through the Janus media server (its VideoRoom plugin), with janus.js.
//
// Each page publishes its own tracks once, to the server, whatever the class's size,
// and receives everyone else's through one subscriber connection: the teacher's upload
// no longer grows with the class. The server (liveroom/media/sfu.py) gave this page a
// Janus token valid for this meeting's room alone; the room's own rules (who may
// publish, strong mutes) are decided by the app, which also tells Janus.
//
// Published tracks carry their kind as the stream's description ("mic", "camera",
// "screen"), so a receiver knows which tile a track belongs to. The camera is sent
// in three simulcast layers; receivers take the middle one, so thirty tiles are not
// thirty full-size streams.
//
// This object implements the backend contract of room-media.js: setWanted, setTrack,
// setSending, receive, restart, stats, close.
(function () {
  "use strict";

  var KINDS = ["mic", "camera", "screen"];
  var TYPE = { mic: "audio", camera: "video", screen: "video" };
  // Simulcast layer each receiver asks for (0 low, 1 middle, 2 high).
  var GRID_LAYER = 1;
  var initialised = null;

  function ready() {
    if (!initialised) {
      initialised = new Promise(function (resolve) {
        window.Janus.init({
          debug: false,
          dependencies: window.Janus.useDefaultDependencies({ adapter: window.adapter }),
          callback: resolve,
        });
      });
    }
    return initialised;
  }

  function SfuBackend(options) {
    this.me = Number(options.me);
    this.janusConfig = options.janus || {};
    this.ice = options.ice || { iceServers: [], iceTransportPolicy: "all" };
    this.onTrack = options.onTrack;
    this.onPeerState = options.onPeerState || function () {};
    this.onUnavailable = options.onUnavailable || function () {};
    this.tracks = { mic: null, camera: null, screen: null };
    this.sending = { mic: false, camera: false, screen: false };
    this.published = { mic: null, camera: null, screen: null };
    this.mids = {};            // kind -> mid of our publishing connection
    this.publishers = {};      // feed (user id) -> {streams: [{mid, description, ...}]}
    this.wanted = {};          // user ids this page should receive
    this.subscribed = {};      // "feed:mid" -> true, once asked for
    this.streams = {};         // subscriber mid -> {uid, kind}
    this.peers = {};           // none: there is no connection per person
    this.closed = false;
    this.connect();
  }

  SfuBackend.prototype.connect = function () {
    var self = this;
    ready().then(function () {
      if (self.closed) return;
      self.janus = new window.Janus({
        server: self.janusConfig.server,
        token: self.janusConfig.token,
        iceServers: self.ice.iceServers,
        iceTransportPolicy: self.ice.iceTransportPolicy,
        success: function () { self.attachPublisher(); },
        error: function (cause) { self.unavailable(cause); },
      });
    });
  };

  SfuBackend.prototype.unavailable = function (cause) {
    if (this.closed) return;
    if (window.console) console.warn("liveroom media: the media server is unavailable", cause);
    this.onUnavailable();
  };

  // --- Publishing -----------------------------------------------------------------

  SfuBackend.prototype.attachPublisher = function () {
    var self = this;
    this.janus.attach({
      plugin: "janus.plugin.videoroom",
      success: function (handle) {
        self.publisher = handle;
        handle.send({ message: {
          request: "join", ptype: "publisher", room: self.janusConfig.room,
          id: self.me, display: String(self.me), token: self.janusConfig.token,
        } });
      },
      error: function (cause) { self.unavailable(cause); },
      onmessage: function (message, jsep) { self.publisherMessage(message, jsep); },
      onlocaltrack: function () {},
      onremotetrack: function () {},
    });
  };

  SfuBackend.prototype.publisherMessage = function (message, jsep) {
    var event = message.videoroom;
    if (event === "joined") {
      this.joined = true;
      this.privateId = message.private_id;
      this.addPublishers(message.publishers || []);
      this.negotiate();
    } else if (event === "event") {
      if (message.publishers) this.addPublishers(message.publishers);
      if (message.unpublished && message.unpublished !== "ok") this.removePublisher(message.unpublished);
      if (message.leaving && message.leaving !== "ok") this.removePublisher(message.leaving);
      if (message.error_code && window.console) console.warn("liveroom media:", message.error);
    }
    if (jsep) this.publisher.handleRemoteJsep({ jsep: jsep });
  };

  SfuBackend.prototype.wantedTrack = function (kind) {
    return this.sending[kind] ? this.tracks[kind] : null;
  };

  // Bring what is published in line with what should be: one renegotiation at a time,
  // the last change winning.
  SfuBackend.prototype.negotiate = function () {
    if (!this.joined || this.closed) return;
    if (this.negotiating) { this.again = true; return; }
    var self = this;
    var want = {};
    var changes = [];
    KINDS.forEach(function (kind) {
      var track = want[kind] = self.wantedTrack(kind);
      if (track === self.published[kind]) return;
      var change = { type: TYPE[kind], recv: false, dontStop: true };
      if (track) {
        track.dontStop = true;  // the page owns its tracks: janus.js must not stop them
        change.capture = track;
        if (self.mids[kind]) { change.mid = self.mids[kind]; change.replace = true; }
        else { change.add = true; change.simulcast = kind === "camera"; }
      } else if (self.mids[kind]) {
        change.mid = self.mids[kind];
        change.remove = true;
      } else {
        return;
      }
      changes.push(change);
    });
    if (!changes.length) return;
    this.negotiating = true;
    this.publisher.createOffer({
      tracks: changes,
      success: function (jsep) {
        var pc = self.publisher.webrtcStuff.pc;
        pc.getTransceivers().forEach(function (transceiver) {
          KINDS.forEach(function (kind) {
            if (want[kind] && transceiver.sender.track === want[kind]) self.mids[kind] = transceiver.mid;
          });
        });
        KINDS.forEach(function (kind) { self.published[kind] = want[kind]; });
        var descriptions = KINDS.filter(function (kind) { return self.mids[kind]; })
          .map(function (kind) { return { mid: self.mids[kind], description: kind }; });
        self.publisher.send({
          message: { request: "configure", audio: true, video: true, descriptions: descriptions },
          jsep: jsep,
        });
        self.done();
      },
      error: function (cause) {
        if (window.console) console.warn("liveroom media: publishing failed", cause);
        self.done();
      },
    });
  };

  SfuBackend.prototype.done = function () {
    this.negotiating = false;
    if (this.again) { this.again = false; this.negotiate(); }
  };

  SfuBackend.prototype.setSending = function (kind, on) {
    if (this.sending[kind] === on) return;
    this.sending[kind] = on;
    this.negotiate();
  };

  SfuBackend.prototype.setTrack = function (kind, track) {
    this.tracks[kind] = track;
    this.negotiate();
  };

  // --- Receiving ------------------------------------------------------------------

  SfuBackend.prototype.setWanted = function (uids) {
    var wanted = {};
    var self = this;
    uids.forEach(function (uid) { if (Number(uid) !== self.me) wanted[Number(uid)] = true; });
    this.wanted = wanted;
    this.subscribe();
  };

  SfuBackend.prototype.addPublishers = function (list) {
    var self = this;
    list.forEach(function (publisher) {
      if (Number(publisher.id) === self.me) return;
      self.publishers[Number(publisher.id)] = publisher;
    });
    this.subscribe();
  };

  SfuBackend.prototype.removePublisher = function (id) {
    var uid = Number(id);
    delete this.publishers[uid];
    var self = this;
    Object.keys(this.subscribed).forEach(function (key) {
      if (Number(key.split(":")[0]) === uid) delete self.subscribed[key];
    });
    Object.keys(this.streams).forEach(function (mid) {
      if (self.streams[mid].uid === uid) delete self.streams[mid];
    });
    KINDS.forEach(function (kind) { self.onTrack(uid, kind, null); });
    this.onPeerState(uid, "closed");
  };

  // The streams this page should receive: every described stream of the people wanted.
  SfuBackend.prototype.streamsWanted = function () {
    var out = [];
    var self = this;
    Object.keys(this.publishers).forEach(function (id) {
      var uid = Number(id);
      if (!self.wanted[uid]) return;
      (self.publishers[uid].streams || []).forEach(function (stream) {
        if (stream.disabled || KINDS.indexOf(stream.description) < 0) return;
        out.push({ feed: uid, mid: stream.mid });
      });
    });
    return out;
  };

  SfuBackend.prototype.subscribe = function () {
    if (!this.janus || this.closed || !this.joined) return;
    var wanted = this.streamsWanted();
    var self = this;
    var fresh = wanted.filter(function (s) { return !self.subscribed[s.feed + ":" + s.mid]; });
    var keep = {};
    wanted.forEach(function (s) { keep[s.feed + ":" + s.mid] = true; });
    var gone = Object.keys(this.subscribed).filter(function (key) { return !keep[key]; })
      .map(function (key) { var parts = key.split(":"); return { feed: Number(parts[0]), mid: parts[1] }; });
    if (!this.subscriber) {
      if (!fresh.length || this.attaching) return;
      this.attaching = true;
      fresh.forEach(function (s) { self.subscribed[s.feed + ":" + s.mid] = true; });
      this.attachSubscriber(fresh);
      return;
    }
    if (!this.subscriberReady) return;  // asked again once the first answer is in
    if (fresh.length) {
      fresh.forEach(function (s) { self.subscribed[s.feed + ":" + s.mid] = true; });
      this.subscriber.send({ message: { request: "subscribe", streams: fresh } });
    }
    if (gone.length) {
      gone.forEach(function (s) { delete self.subscribed[s.feed + ":" + s.mid]; });
      this.subscriber.send({ message: { request: "unsubscribe", streams: gone } });
    }
  };

  SfuBackend.prototype.attachSubscriber = function (streams) {
    var self = this;
    this.janus.attach({
      plugin: "janus.plugin.videoroom",
      success: function (handle) {
        self.subscriber = handle;
        handle.send({ message: {
          request: "join", ptype: "subscriber", room: self.janusConfig.room,
          private_id: self.privateId, streams: streams, token: self.janusConfig.token,
        } });
      },
      error: function (cause) { self.unavailable(cause); },
      onmessage: function (message, jsep) { self.subscriberMessage(message, jsep); },
      onremotetrack: function (track, mid, on) {
        var stream = self.streams[mid];
        if (stream) self.onTrack(stream.uid, stream.kind, on ? track : null);
      },
      webrtcState: function (on) {
        Object.keys(self.wanted).forEach(function (uid) {
          self.onPeerState(Number(uid), on ? "connected" : "failed");
        });
      },
    });
  };

  SfuBackend.prototype.subscriberMessage = function (message, jsep) {
    var self = this;
    if (message.streams) {
      var layers = [];
      message.streams.forEach(function (stream) {
        if (stream.active === false || stream.feed_id === undefined) return;
        var kind = self.kindOf(Number(stream.feed_id), stream.feed_mid);
        if (!kind) return;
        self.streams[stream.mid] = { uid: Number(stream.feed_id), kind: kind };
        if (kind === "camera") layers.push({ mid: stream.mid, substream: GRID_LAYER });
      });
      if (layers.length) this.subscriber.send({ message: { request: "configure", streams: layers } });
    }
    if (jsep) {
      this.subscriber.createAnswer({
        jsep: jsep,
        tracks: [{ type: "data" }],
        success: function (answer) {
          self.subscriber.send({ message: { request: "start", room: self.janusConfig.room }, jsep: answer });
          if (!self.subscriberReady) {
            self.subscriberReady = true;
            self.subscribe();  // what changed while the first answer was being made
          }
        },
        error: function (cause) {
          if (window.console) console.warn("liveroom media: receiving failed", cause);
        },
      });
    }
  };

  SfuBackend.prototype.kindOf = function (uid, mid) {
    var publisher = this.publishers[uid];
    var streams = (publisher && publisher.streams) || [];
    for (var i = 0; i < streams.length; i++) {
      if (String(streams[i].mid) === String(mid)) {
        return KINDS.indexOf(streams[i].description) >= 0 ? streams[i].description : null;
      }
    }
    return null;
  };

  // How loud each person is now (0 to 1): the stage's speaking indicator. Read from
  // the statistics of the audio received (the level the browser measures as it plays,
  // whatever RTP header extensions the server forwards), a measurement behind.
  SfuBackend.prototype.levels = function () {
    var handle = this.subscriber;
    var pc = handle && handle.webrtcStuff && handle.webrtcStuff.pc;
    if (pc && !this.measuring) {
      var self = this;
      this.measuring = true;
      pc.getStats().then(function (report) {
        var levels = {};
        report.forEach(function (row) {
          var stream = row.type === "inbound-rtp" && row.kind === "audio" && self.streams[row.mid];
          if (stream) levels[stream.uid] = Math.max(levels[stream.uid] || 0, row.audioLevel || 0);
        });
        self.lastLevels = levels;
      }).catch(function () {}).finally(function () { self.measuring = false; });
    }
    var copy = {};
    var last = this.lastLevels || {};
    Object.keys(last).forEach(function (uid) { copy[uid] = last[uid]; });
    return copy;
  };

  // Signals between browsers belong to the mesh; the media server needs none.
  SfuBackend.prototype.receive = function () {};

  // The room's event stream came back: the media server's connections do not go
  // through it, so nothing to renegotiate; what was published or subscribed is
  // brought in line again in case a change was missed.
  SfuBackend.prototype.restart = function () {
    this.negotiate();
    this.subscribe();
  };

  // The statistics of both connections, rows tagged with the person and kind they
  // belong to (``liveroomUid``, ``liveroomKind``): for the benchmark and the tests.
  SfuBackend.prototype.stats = function () {
    var self = this;
    var handles = [this.publisher, this.subscriber].filter(function (h) {
      return h && h.webrtcStuff && h.webrtcStuff.pc;
    });
    return Promise.all(handles.map(function (handle) {
      return handle.webrtcStuff.pc.getStats().then(function (report) {
        var rows = [];
        report.forEach(function (row) {
          var stream = handle === self.subscriber ? self.streams[row.mid] : null;
          if (stream) { row.liveroomUid = stream.uid; row.liveroomKind = stream.kind; }
          rows.push(row);
        });
        return { uid: handle === self.subscriber ? "received" : "sent", rows: rows };
      });
    }));
  };

  SfuBackend.prototype.close = function () {
    this.closed = true;
    if (this.janus) {
      try { this.janus.destroy({ unload: true }); } catch (error) { /* gone already */ }
    }
  };

  window.LiveroomMedia = window.LiveroomMedia || { backends: {} };
  window.LiveroomMedia.backends.janus = SfuBackend;
})();
