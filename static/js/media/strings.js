// Every sentence the scripts show or announce: LiveroomStrings.say(key, values), with
// {name}, {n}… filled in. The words are the server's catalogue (liveroom/script_strings.py,
// gettext messages translated with the rest), fetched in the page's language from the
// address its head names (<link id="liveroom-strings">). The English below is what a page
// says until it arrives, or if it never does: the same sentences as the server's English
// (tests/test_script_strings.py keeps them equal). A count-bearing sentence comes as one
// form per plural category ("one", "few", "other"…), chosen by Intl.PluralRules.
(function () {
  "use strict";
  var catalogue = {
    // Connection notices and the copy button (static/js/app.js).
    connectionLost: "Connection lost. Trying again…",
    serverProblem: "The server had a problem. Trying again…",
    liveInterrupted: "Live updates interrupted. Reconnecting…",
    copied: "Copied",
    linkCopied: "Link copied to the clipboard.",
    // The room (static/js/room.js).
    openElsewhere: "This room is open in another tab.",
    privatelyTo: "Privately to {name}",
    // The media scripts.
    devices: "Devices",
    youAreMuted: "You are muted.",
    youAreUnmuted: "Your microphone is on.",
    mutedByInstructor: "An instructor muted your microphone.",
    strongMuted: "An instructor muted everyone. Raise your hand to ask to speak.",
    mayUnmute: "You may turn your microphone on again.",
    cameraStopped: "An instructor turned your camera off.",
    shareStopped: "An instructor stopped your screen share.",
    micElsewhere: "Your microphone was turned off in another tab or window of this room.",
    cameraElsewhere: "Your camera was turned off in another tab or window of this room.",
    screenElsewhere: "Your screen share was stopped in another tab or window of this room.",
    micCameraElsewhere: "Your microphone and camera were turned off in another tab or window of this room.",
    mediaElsewhere: "Your audio and video were turned off in another tab or window of this room.",
    offStage: "You are no longer on the stage: your microphone, camera and screen are off.",
    invited: "An instructor invited you onto the stage. You can turn on your microphone or camera.",
    permissionDenied: "The browser was not allowed to use your {device}. Allow it in the address bar's site settings, then try again.",
    notFound: "No {device} was found. Plug one in, or choose another under Devices.",
    inUse: "Your {device} is in use by another program. Close it there, then try again.",
    failed: "Your {device} could not be started. Choose another under Devices, or reload the page.",
    screenCancelled: "Screen sharing was cancelled.",
    microphone: "microphone",
    camera: "camera",
    connecting: "Connecting…",
    reconnecting: "Reconnecting audio and video…",
    connectionFailed: "Could not connect to {name}. Their audio and video will come back when the connection does.",
    speaking: "speaking",
    handRaised: "hand raised",
    micMutedState: "microphone off",
    micOnState: "microphone on",
    cameraOffState: "camera off",
    sharingState: "sharing a screen",
    pin: "Pin {name}",
    unpin: "Unpin {name}",
    screenOf: "{name}'s screen",
    you: "You",
    joinedStage: "{name} is on the stage.",
    leftStage: "{name} left the stage.",
    previewTitle: "Check your microphone and camera",
    stageEmpty: "Turn on your microphone or camera below and you appear here.",
    stageAsk: "Raise your hand to ask to speak: an instructor can invite you onto the stage.",
    stageTooLarge: "Audio and video are off: this meeting is larger than a meeting without the school's media server carries.",
    mediaUnavailable: "Audio and video are unavailable right now: the school's media server does not answer. Chat and everything else keep working.",
    needsMediaServer: "Audio and video in a meeting this size need the school's media server, which is not set up. Chat, hands and everything else keep working.",
    refused: "{reason}",
    // The media toggles: one name each, whatever the state; aria-pressed says on or off.
    micToggle: "Microphone",
    cameraToggle: "Camera",
    screenToggle: "Share screen",
    // The room's live region (static/js/announce.js).
    chatFrom: "{name}: {text}",
    newMessages: { one: "{n} new message in the chat.", other: "{n} new messages in the chat." },
    raisedHand: "{name} raised their hand.",
    // Keyboard shortcuts (static/js/shortcuts.js): what each one did, said aloud.
    handRaisedSelf: "Your hand is raised.",
    handLoweredSelf: "Your hand is lowered.",
    cameraOnSelf: "Your camera is on.",
    cameraOffSelf: "Your camera is off.",
    noHandForInstructors: "Instructors have no hand to raise.",
    chatClosed: "Chat is turned off for participants.",
    notNow: "That is not available right now."
  };

  var language = document.documentElement.getAttribute("lang") || "en";
  var plurals = null;
  try { plurals = new Intl.PluralRules(language); } catch (e) { plurals = null; }

  // The form of a count-bearing sentence for values.n (English's "other" if unsure).
  function form(entry, values) {
    if (typeof entry === "string") return entry;
    var n = values && typeof values.n === "number" ? values.n : NaN;
    var category = plurals && !isNaN(n) ? plurals.select(n) : "other";
    return entry[category] || entry.other || "";
  }

  function say(key, values) {
    var entry = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : null;
    var text = entry === null ? key : form(entry, values);
    if (values) {
      text = text.replace(/\{(\w+)\}/g, function (all, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
      });
    }
    return text;
  }

  // The page's catalogue: resolved once it is in (or failed: English stays), so a script
  // that writes words as it starts can wait for them (LiveroomStrings.ready.then(...)).
  var link = document.getElementById("liveroom-strings");
  var ready = !link || typeof fetch !== "function" ? Promise.resolve(false) :
    fetch(link.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("catalogue " + response.status);
      return response.json();
    }).then(function (words) {
      Object.keys(words).forEach(function (key) { catalogue[key] = words[key]; });
      document.dispatchEvent(new CustomEvent("liveroom:strings"));
      return true;
    }).catch(function () { return false; });

  window.LiveroomStrings = { catalogue: catalogue, say: say, ready: ready };
})();
