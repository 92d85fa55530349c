"""Each person's live-room switches: which announcements the room's live region speaks
to them (``User.announcements_off``, the categories turned off, comma-separated) and
whether their keyboard shortcuts are on (``User.shortcuts_on``). Set on the Account
page and in the room's shortcuts dialog; read by static/js/announce.js and
static/js/shortcuts.js from ``#room-prefs`` (rooms/_room_prefs.html)."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from liveroom.models import User

# The categories of announcements, in the order the Account page lists them. The keys
# are stored, and the page's script knows them (static/js/announce.js CATEGORIES).
ANNOUNCEMENTS = {
    "chat": _l("New chat messages"),
    "hands": _l("Raised hands (instructors and moderators)"),
    "people": _l("People joining and leaving"),
    "muted": _l("An instructor muting you"),
    "stage": _l("Being invited onto the stage"),
    "ended": _l("The meeting ending"),
}


def announcements_off(user: User) -> set[str]:
    """The categories ``user`` turned off (unknown keys, from an older version, ignored)."""
    return {key for key in (user.announcements_off or "").split(",") if key in ANNOUNCEMENTS}


def set_announcements_heard(user: User, heard: Iterable[str]) -> None:
    """Keep on the categories in ``heard`` and turn every other one off. The caller
    has checked ``heard`` holds only known keys."""
    heard = set(heard)
    user.announcements_off = ",".join(key for key in ANNOUNCEMENTS if key not in heard)
