"""The scripts' words: every sentence static/js builds, as gettext messages.

The scripts never carry their own sentences: they say ``LiveroomStrings.say(key,
values)`` (static/js/media/strings.js), whose words come from this catalogue, served
per language as a small JSON file at a versioned address (``GET /i18n/<code>.json?v=``,
cached for a year: a new catalogue is a new address). The page names the address in
its head (``<link id="liveroom-strings">``, ``script_strings_url``); strings.js keeps the
English as its fallback, so a page whose catalogue did not arrive still speaks English
(tests/test_script_strings.py keeps that copy equal to the English here).

Placeholders are the scripts' own: ``{name}``, ``{n}``. A count-bearing sentence is a
``ngettext(singular, plural)`` here: the JSON gives it as an object with a form per CLDR
plural category of the language ("one", "two", "few", "many", "other", "zero"), which
strings.js chooses with ``Intl.PluralRules``.

``make messages`` extracts ``N_`` and ``ngettext`` (Babel's default keywords).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from babel import Locale
from flask import Blueprint, Flask, Response, abort, request, url_for
from flask_babel import force_locale, get_locale, get_translations

from liveroom.i18n import LANGUAGES, N_, SOURCE


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """Marks a count-bearing sentence for the catalogues and keeps both forms for the
    JSON. Named as gettext's own so ``make messages`` extracts it with Babel's default
    keywords (this module translates through ``get_translations`` instead)."""
    return (singular, plural)


STRINGS: dict[str, str | tuple[str, str]] = {
    # Connection notices and the copy button (static/js/app.js).
    "connectionLost": N_("Connection lost. Trying again…"),
    "serverProblem": N_("The server had a problem. Trying again…"),
    "liveInterrupted": N_("Live updates interrupted. Reconnecting…"),
    "copied": N_("Copied"),
    "linkCopied": N_("Link copied to the clipboard."),
    # The room (static/js/room.js).
    "openElsewhere": N_("This room is open in another tab."),
    "privatelyTo": N_("Privately to {name}"),
    # The media scripts (static/js/media/*.js).
    "devices": N_("Devices"),
    "youAreMuted": N_("You are muted."),
    "youAreUnmuted": N_("Your microphone is on."),
    "mutedByInstructor": N_("An instructor muted your microphone."),
    "strongMuted": N_("An instructor muted everyone. Raise your hand to ask to speak."),
    "mayUnmute": N_("You may turn your microphone on again."),
    "cameraStopped": N_("An instructor turned your camera off."),
    "shareStopped": N_("An instructor stopped your screen share."),
    "micElsewhere": N_("Your microphone was turned off in another tab or window of this room."),
    "cameraElsewhere": N_("Your camera was turned off in another tab or window of this room."),
    "screenElsewhere": N_("Your screen share was stopped in another tab or window of this room."),
    "micCameraElsewhere": N_(
        "Your microphone and camera were turned off in another tab or window of this room."
    ),
    "mediaElsewhere": N_(
        "Your audio and video were turned off in another tab or window of this room."
    ),
    "offStage": N_("You are no longer on the stage: your microphone, camera and screen are off."),
    "invited": N_(
        "An instructor invited you onto the stage. You can turn on your microphone or camera."
    ),
    "permissionDenied": N_(
        "The browser was not allowed to use your {device}. Allow it in the address bar's "
        "site settings, then try again."
    ),
    "notFound": N_("No {device} was found. Plug one in, or choose another under Devices."),
    "inUse": N_("Your {device} is in use by another program. Close it there, then try again."),
    "failed": N_(
        "Your {device} could not be started. Choose another under Devices, or reload the page."
    ),
    "screenCancelled": N_("Screen sharing was cancelled."),
    "microphone": N_("microphone"),
    "camera": N_("camera"),
    "connecting": N_("Connecting…"),
    "reconnecting": N_("Reconnecting audio and video…"),
    "connectionFailed": N_(
        "Could not connect to {name}. Their audio and video will come back when the "
        "connection does."
    ),
    "speaking": N_("speaking"),
    "handRaised": N_("hand raised"),
    "micMutedState": N_("microphone off"),
    "micOnState": N_("microphone on"),
    "cameraOffState": N_("camera off"),
    "sharingState": N_("sharing a screen"),
    "pin": N_("Pin {name}"),
    "unpin": N_("Unpin {name}"),
    "screenOf": N_("{name}'s screen"),
    "you": N_("You"),
    "joinedStage": N_("{name} is on the stage."),
    "leftStage": N_("{name} left the stage."),
    "previewTitle": N_("Check your microphone and camera"),
    "stageEmpty": N_("Turn on your microphone or camera below and you appear here."),
    "stageAsk": N_("Raise your hand to ask to speak: an instructor can invite you onto the stage."),
    "stageTooLarge": N_(
        "Audio and video are off: this meeting is larger than a meeting without the "
        "school's media server carries."
    ),
    "mediaUnavailable": N_(
        "Audio and video are unavailable right now: the school's media server does not "
        "answer. Chat and everything else keep working."
    ),
    # The roster's reason when a meeting is too large for media without the server.
    "needsMediaServer": N_(
        "Audio and video in a meeting this size need the school's media server, which "
        "is not set up. Chat, hands and everything else keep working."
    ),
    "refused": N_("{reason}"),
    # The media toggles: one name each, whatever the state; aria-pressed says on or off.
    "micToggle": N_("Microphone"),
    "cameraToggle": N_("Camera"),
    "screenToggle": N_("Share screen"),
    # The room's live region (static/js/announce.js).
    "chatFrom": N_("{name}: {text}"),
    "newMessages": ngettext("{n} new message in the chat.", "{n} new messages in the chat."),
    "raisedHand": N_("{name} raised their hand."),
    # Keyboard shortcuts (static/js/shortcuts.js): what each one did, said aloud.
    "handRaisedSelf": N_("Your hand is raised."),
    "handLoweredSelf": N_("Your hand is lowered."),
    "cameraOnSelf": N_("Your camera is on."),
    "cameraOffSelf": N_("Your camera is off."),
    "noHandForInstructors": N_("Instructors have no hand to raise."),
    "chatClosed": N_("Chat is turned off for participants."),
    "notNow": N_("That is not available right now."),
}


def plural_samples(code: str) -> dict[str, int]:
    """A number of each CLDR plural category of the language (Arabic: zero 0, one 1,
    two 2, few 3, many 11, other 100), to ask gettext for that category's form."""
    rule = Locale.parse(code).plural_form
    samples: dict[str, int] = {}
    for n in (*range(0, 201), 1_000_000):
        samples.setdefault(rule(n), n)
    return samples


def catalogue(code: str) -> dict[str, str | dict[str, str]]:
    """Every key in ``code``'s words (the caller has an app context)."""
    with force_locale(code):
        translations = get_translations()
        words: dict[str, str | dict[str, str]] = {}
        for key, message in STRINGS.items():
            if isinstance(message, tuple):
                singular, plural = message
                words[key] = {
                    category: translations.ungettext(singular, plural, n)
                    for category, n in plural_samples(code).items()
                }
            else:
                words[key] = translations.ugettext(message)
        return words


@lru_cache(maxsize=16)
def _served(code: str, app_id: int) -> tuple[bytes, str]:
    # Built once per language per process: the catalogues are compiled before it starts.
    body = json.dumps(catalogue(code), ensure_ascii=False, sort_keys=True).encode()
    return body, hashlib.sha256(body).hexdigest()[:12]


def served(code: str) -> tuple[bytes, str]:
    """The JSON of ``code``'s catalogue and its version (a hash of it)."""
    from flask import current_app

    return _served(code, id(current_app._get_current_object()))


bp = Blueprint("i18n", __name__)
# A year: the address changes with the catalogue (its version), so a cached copy is
# never stale.
CACHED_FOR = 365 * 24 * 3600


@bp.get("/i18n/<code>.json")
def script_catalogue(code: str) -> Response:
    """A language's words for the scripts; 404 for a language the site does not know."""
    if code not in LANGUAGES:
        abort(404)
    body, version = served(code)
    response = Response(body, mimetype="application/json")
    if request.args.get("v") == version:
        response.headers["Cache-Control"] = f"public, max-age={CACHED_FOR}, immutable"
    else:
        # An old or missing version: correct now, but not to be kept.
        response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def script_strings_url() -> str:
    """The address of the page's language's catalogue, versioned (templates' global)."""
    code = str(get_locale() or SOURCE)
    if code not in LANGUAGES:
        code = SOURCE
    return url_for("i18n.script_catalogue", code=code, v=served(code)[1])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(script_strings_url)
