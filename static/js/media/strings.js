// Every sentence the media scripts show or announce, in one place: the languages
// issue translates this catalogue (the server's own words come in its fragments).
// {name} and {n} are filled in by LiveroomStrings.say(key, values).
(function () {
  "use strict";
  var catalogue = {
    micOn: "Turn microphone off",
    micOff: "Turn microphone on",
    cameraOn: "Turn camera off",
    cameraOff: "Turn camera on",
    screenOn: "Stop sharing",
    screenOff: "Share screen",
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
    refused: "{reason}"
  };

  function say(key, values) {
    var text = catalogue[key] || key;
    if (values) {
      text = text.replace(/\{(\w+)\}/g, function (all, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
      });
    }
    return text;
  }

  window.LiveroomStrings = { catalogue: catalogue, say: say };
})();
