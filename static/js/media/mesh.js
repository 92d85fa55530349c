// The peer-to-peer mesh: one RTCPeerConnection to each other person, for every pair in
// which at least one side publishes. No media server: each publisher sends a copy of
// its tracks to each receiver.
//
// Every connection carries three transceivers in a fixed order, created by the side
// with the smaller user id (the "initiator") and mirrored by the other side when the
// first offer arrives: 0 microphone, 1 camera, 2 screen. A transceiver's direction says
// whether this side sends that kind ("sendrecv") or only receives ("recvonly"), so the
// server can read from an offer or answer what a person is about to send, and refuse
// it when they may not (liveroom/media/signals.py). A microphone muted in the ordinary
// way keeps its direction and sends nothing (replaceTrack(null)), so unmuting is
// instant; losing the right to send turns the direction back to "recvonly".
//
// Negotiation follows the "perfect negotiation" pattern: either side may offer at any
// time, and the initiator is the impolite side that wins a collision. Signals go out
// through ``send`` (a POST) and come in through ``receive`` (the room's event stream);
// they are never replayed, so after the stream reconnects every connection restarts
// ICE and negotiates afresh.
//
// This object implements the backend contract of room-media.js: setWanted, setTrack,
// setSending, receive, restart, stats, close.
(function () {
  "use strict";

  var KINDS = ["mic", "camera", "screen"];
  var HELLO = "00000000";
  // An offer nobody answered is sent again after this long, then twice as long...
  var FIRST_RETRY_MS = 3000;
  var LAST_RETRY_MS = 24000;
  // A TURN credential older than this is replaced before the next new connection.
  var ICE_FRESH_MS = 5 * 60 * 1000;

  function MeshBackend(options) {
    this.me = Number(options.me);
    this.send = options.send;
    // ICE servers and policy (liveroom/media/ice.py): a TURN credential minted for this
    // person, valid for an hour; a fresh one is fetched before every ICE restart.
    this.ice = options.ice || { iceServers: [], iceTransportPolicy: "all" };
    this.fetchIce = options.fetchIce || null;
    this.iceFetchedAt = Date.now();
    this.onTrack = options.onTrack;
    this.onPeerState = options.onPeerState || function () {};
    this.bitrates = options.bitrates || {};
    this.tracks = { mic: null, camera: null, screen: null };
    this.sending = { mic: false, camera: false, screen: false };
    this.peers = {};
    this.closed = false;
  }

  // The people this page should be connected to now (user ids); others are closed.
  MeshBackend.prototype.setWanted = function (uids) {
    if (this.closed) return;
    var wanted = {};
    var self = this;
    uids.forEach(function (uid) {
      uid = Number(uid);
      if (uid === self.me) return;
      wanted[uid] = true;
      if (!self.peers[uid] && self.me < uid) self.peers[uid] = new Peer(self, uid, null);
    });
    Object.keys(this.peers).forEach(function (uid) {
      if (!wanted[uid]) self.drop(Number(uid));
    });
    this.wanted = wanted;
  };

  // Whether this side may send ``kind`` (the direction it negotiates).
  MeshBackend.prototype.setSending = function (kind, on) {
    if (this.sending[kind] === on) return;
    this.sending[kind] = on;
    if (!on) this.setTrack(kind, null);
    this.eachPeer(function (peer) { peer.applyDirections(); });
  };

  // The local track for ``kind`` (null: send nothing), to every connection at once.
  MeshBackend.prototype.setTrack = function (kind, track) {
    this.tracks[kind] = track;
    this.eachPeer(function (peer) { peer.applyTrack(kind); });
  };

  // This page's stream has just opened: an offer sent to it before then was lost (a
  // signal is delivered once, to the streams open at the time), so ask the people who
  // start our connections to offer now.
  MeshBackend.prototype.hello = function () {
    var self = this;
    Object.keys(this.wanted || {}).forEach(function (uid) {
      if (Number(uid) < self.me) self.send(Number(uid), { hello: true, connection: HELLO });
    });
  };

  // A signal from the stream: {from, description}, {from, candidate} or {from, hello}.
  MeshBackend.prototype.receive = function (message) {
    if (this.closed) return;
    var from = Number(message.from);
    if (message.hello) {
      // Someone whose connection we start has just opened their stream.
      if (from < this.me || (this.wanted && !this.wanted[from])) return;
      if (!this.peers[from]) this.peers[from] = new Peer(this, from, null);
      else this.peers[from].reoffer(true);
      return;
    }
    var peer = this.peers[from];
    var isOffer = message.description && message.description.type === "offer";
    if (peer && message.connection !== peer.connection) {
      // A signal of an older connection, or the first offer of a new one (the other
      // side closed and opened again): the new one replaces ours. A candidate of a
      // newer connection whose offer we missed: ask for the offer again.
      if (from < this.me && !isOffer) this.send(from, { hello: true, connection: HELLO });
      if (!isOffer || from > this.me) return;
      this.drop(from);
      peer = null;
    }
    if (!peer) {
      // Only the initiator's first offer opens a connection on this side. Candidates
      // that overtook it (its first sending was lost, then it came again) wait for it.
      if (message.candidate && from < this.me) this.keepEarly(from, message);
      if (!isOffer || from > this.me) return;
      peer = this.peers[from] = new Peer(this, from, message.connection);
      peer.early = this.takeEarly(from, message.connection);
    }
    peer.handle(message);
  };

  MeshBackend.prototype.keepEarly = function (from, message) {
    var early = this.early || (this.early = {});
    var kept = early[from];
    if (!kept || kept.connection !== message.connection) {
      kept = early[from] = { connection: message.connection, candidates: [] };
    }
    if (kept.candidates.length < 64) kept.candidates.push(message.candidate);
  };

  MeshBackend.prototype.takeEarly = function (from, connection) {
    var kept = this.early && this.early[from];
    if (this.early) delete this.early[from];
    return kept && kept.connection === connection ? kept.candidates : [];
  };

  // What every connection is configured with: the ICE servers (with this person's
  // TURN credential) and one transport for the three sections (max-bundle): a third of
  // the candidates and connectivity checks, which matters when every browser feeds
  // several connections.
  MeshBackend.prototype.rtcConfiguration = function () {
    // A new connection takes the newest credential; one older than five minutes is
    // replaced in the background, so the next connection gets a fresh one too.
    if (Date.now() - this.iceFetchedAt > ICE_FRESH_MS) this.refreshIce();
    return {
      iceServers: this.ice.iceServers || [],
      iceTransportPolicy: this.ice.iceTransportPolicy || "all",
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    };
  };

  // A TURN credential minted now, for an ICE restart (a connection that failed once
  // its credential ran out gets a new one); every connection is reconfigured with it.
  // Restarts that come together (the stream came back) share one request. Resolves
  // even when the request fails: the restart then goes ahead with what the page has.
  MeshBackend.prototype.refreshIce = function () {
    var self = this;
    if (!this.fetchIce || this.closed) return Promise.resolve();
    if (this.iceRefresh) return this.iceRefresh;
    this.iceRefresh = this.fetchIce().then(function (ice) {
      self.ice = ice;
      self.iceFetchedAt = Date.now();
      var configuration = self.rtcConfiguration();
      self.eachPeer(function (peer) {
        try { peer.pc.setConfiguration(configuration); } catch (error) { /* closed */ }
      });
    }).catch(function () {}).finally(function () {
      self.iceRefresh = null;
    });
    return this.iceRefresh;
  };

  // After the event stream came back: signals may have been lost, negotiate again.
  MeshBackend.prototype.restart = function () {
    this.eachPeer(function (peer) { peer.restart(); });
  };

  MeshBackend.prototype.drop = function (uid) {
    var peer = this.peers[uid];
    if (!peer) return;
    delete this.peers[uid];
    peer.close();
  };

  MeshBackend.prototype.close = function () {
    this.closed = true;
    var self = this;
    Object.keys(this.peers).forEach(function (uid) { self.drop(Number(uid)); });
  };

  MeshBackend.prototype.eachPeer = function (fn) {
    var peers = this.peers;
    Object.keys(peers).forEach(function (uid) { fn(peers[uid]); });
  };

  // Sum of the connections' statistics: for the benchmark and the tests.
  MeshBackend.prototype.stats = function () {
    var self = this;
    var uids = Object.keys(this.peers);
    return Promise.all(uids.map(function (uid) {
      return self.peers[uid].pc.getStats().then(function (report) {
        var rows = [];
        report.forEach(function (row) { rows.push(row); });
        return { uid: Number(uid), rows: rows };
      });
    }));
  };

  // ``connection``: the id the initiator chose for this connection (null: we initiate).
  function Peer(backend, uid, connection) {
    this.backend = backend;
    this.uid = uid;
    this.polite = backend.me > uid;
    this.connection = connection || newConnectionId();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.closed = false;
    var pc = this.pc = new RTCPeerConnection(backend.rtcConfiguration());
    var self = this;
    if (!connection) {
      KINDS.forEach(function (kind) {
        pc.addTransceiver(kind === "mic" ? "audio" : "video", { direction: "recvonly" });
      });
      this.applyDirections();
    }
    pc.onnegotiationneeded = function () { self.offer(false); };
    pc.onicecandidate = function (event) {
      if (event.candidate) self.signal({ candidate: event.candidate.toJSON() });
    };
    pc.ontrack = function (event) {
      var kind = self.kindOf(event.transceiver);
      if (kind) backend.onTrack(uid, kind, event.track);
    };
    pc.onconnectionstatechange = function () {
      backend.onPeerState(uid, pc.connectionState);
      if (pc.connectionState === "failed") self.restart();
    };
  }

  Peer.prototype.kindOf = function (transceiver) {
    var index = this.pc.getTransceivers().indexOf(transceiver);
    return KINDS[index] || null;
  };

  Peer.prototype.transceiver = function (kind) {
    return this.pc.getTransceivers()[KINDS.indexOf(kind)] || null;
  };

  // Directions from what this side may send; a change makes the browser renegotiate.
  Peer.prototype.applyDirections = function () {
    var self = this;
    KINDS.forEach(function (kind) {
      var transceiver = self.transceiver(kind);
      if (!transceiver || transceiver.stopped) return;
      var wanted = self.backend.sending[kind] ? "sendrecv" : "recvonly";
      if (transceiver.direction !== wanted) transceiver.direction = wanted;
      self.applyTrack(kind);
    });
  };

  Peer.prototype.applyTrack = function (kind) {
    var transceiver = this.transceiver(kind);
    if (!transceiver || transceiver.stopped) return;
    var track = this.backend.sending[kind] ? this.backend.tracks[kind] : null;
    if (transceiver.sender.track === track) return;
    var self = this;
    transceiver.sender.replaceTrack(track).then(function () {
      if (track && kind !== "mic") self.capBitrate(kind, transceiver.sender);
    }).catch(function () {});
  };

  // Mesh senders upload one copy per receiver: keep each copy modest.
  Peer.prototype.capBitrate = function (kind, sender) {
    var limit = this.backend.bitrates[kind];
    if (!limit || !sender.getParameters) return;
    var parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) parameters.encodings = [{}];
    parameters.encodings.forEach(function (encoding) {
      encoding.maxBitrate = limit.bitrate;
      if (limit.framerate) encoding.maxFramerate = limit.framerate;
    });
    if (kind === "screen") parameters.degradationPreference = "maintain-resolution";
    sender.setParameters(parameters).catch(function () {});
  };

  // ``iceRestart``: gather new candidates, with a TURN credential minted for it.
  Peer.prototype.offer = function (iceRestart) {
    var self = this;
    if (iceRestart) {
      this.backend.refreshIce().then(function () { self.offerNow(true); });
      return;
    }
    this.offerNow(false);
  };

  Peer.prototype.offerNow = function (iceRestart) {
    if (this.closed) return;
    var self = this;
    var pc = this.pc;
    if (iceRestart) pc.restartIce();
    if (pc.signalingState !== "stable") return;
    this.makingOffer = true;
    pc.setLocalDescription().then(function () {
      self.awaitAnswer();
      return self.signal({ description: pc.localDescription.toJSON() });
    }).catch(function () {
      // Refused (the server said this side may not send what it offered) or lost:
      // go back to the last agreed state; the next change or restart offers again.
      if (pc.signalingState === "have-local-offer") {
        return pc.setLocalDescription({ type: "rollback" }).catch(function () {});
      }
    }).finally(function () {
      self.makingOffer = false;
    });
  };

  // The answer may never come (the offer reached the server before the other page's
  // stream was open, or the other page was reloading): offer again, less and less often.
  Peer.prototype.awaitAnswer = function () {
    var self = this;
    clearTimeout(this.retryTimer);
    this.retryIn = Math.min(LAST_RETRY_MS, (this.retryIn || FIRST_RETRY_MS / 2) * 2);
    this.retryTimer = setTimeout(function () {
      if (!self.closed && self.pc.signalingState === "have-local-offer") self.reoffer();
    }, this.retryIn);
  };

  // Offer afresh now: after a hello, or when the last offer went unanswered.
  // ``iceRestart``: the other side asked (its connection failed or its stream came
  // back), so gather new candidates as well.
  Peer.prototype.reoffer = function (iceRestart) {
    if (this.closed) return;
    var pc = this.pc;
    if (pc.signalingState === "have-local-offer") {
      this.resend();
    } else if (iceRestart || pc.connectionState !== "connected") {
      this.offer(!!iceRestart);
    }
  };

  // Send the offer we are waiting on again, as it is. Never roll it back and offer
  // anew: the other side may have answered it already (signals are slow under load),
  // and rolling back a connection's first offer renumbers its sections, which makes
  // both sides refuse each other's descriptions ("order of m-lines doesn't match").
  Peer.prototype.resend = function () {
    var pc = this.pc;
    if (this.closed || pc.signalingState !== "have-local-offer" || !pc.localDescription) return;
    this.awaitAnswer();
    this.signal({ description: pc.localDescription.toJSON() });
  };

  Peer.prototype.handle = function (message) {
    var pc = this.pc;
    var self = this;
    if (message.description) {
      var description = message.description;
      var collision = description.type === "offer" &&
        (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
      pc.setRemoteDescription(description).then(function () {
        var early = self.early || [];
        self.early = null;
        early.forEach(function (candidate) { pc.addIceCandidate(candidate).catch(function () {}); });
        if (description.type !== "offer") {
          clearTimeout(self.retryTimer);
          self.retryIn = 0;
          // A restart asked for while this offer was out: do it now.
          if (pc.connectionState === "failed") self.offer(true);
          return;
        }
        // Our side of the mirrored transceivers: what we may send, and our tracks.
        self.applyDirections();
        return pc.setLocalDescription().then(function () {
          return self.signal({ description: pc.localDescription.toJSON() });
        });
      }).catch(function (error) {
        // Negotiation failed on this side: say so in the console; a restart follows.
        if (window.console) console.warn("liveroom media: negotiation with " + self.uid, error);
      });
    } else if (message.candidate) {
      pc.addIceCandidate(message.candidate).catch(function (error) {
        if (!self.ignoreOffer && window.console) console.debug("candidate", error);
      });
    }
  };

  // Negotiate afresh with new candidates (the connection failed, or the stream came
  // back), both sides with a TURN credential minted for it.
  Peer.prototype.restart = function () {
    var self = this;
    this.backend.refreshIce().then(function () { self.restartNow(); });
  };

  Peer.prototype.restartNow = function () {
    if (this.closed) return;
    var pc = this.pc;
    if (this.polite) {
      // The other side starts this connection: ask it to offer again, with new
      // candidates (an offer of ours could carry a connection it no longer has).
      if (pc.signalingState === "have-local-offer") {
        pc.setLocalDescription({ type: "rollback" }).catch(function () {});
      }
      this.backend.send(this.uid, { hello: true, connection: HELLO });
      return;
    }
    if (pc.signalingState === "have-local-offer") {
      this.resend();
      return;
    }
    this.offerNow(true);
  };

  Peer.prototype.signal = function (message) {
    if (this.closed) return Promise.resolve();
    message.connection = this.connection;
    return this.backend.send(this.uid, message);
  };

  function newConnectionId() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  Peer.prototype.close = function () {
    this.closed = true;
    clearTimeout(this.retryTimer);
    var backend = this.backend;
    var uid = this.uid;
    KINDS.forEach(function (kind) { backend.onTrack(uid, kind, null); });
    try { this.pc.close(); } catch (error) { /* already closed */ }
    backend.onPeerState(uid, "closed");
  };

  window.LiveroomMedia = window.LiveroomMedia || { backends: {} };
  window.LiveroomMedia.backends.mesh = MeshBackend;
})();
