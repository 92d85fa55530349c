"""Site settings: stored in the database, edited by admins on a page or by CLI."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from flask import g
from flask.globals import _cv_app
from flask_babel import gettext as _

from liveroom import events, freshness
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.i18n import LANGUAGES
from liveroom.media.rules import StageMode
from liveroom.models import AuditEntry, LiveSession, Room, Setting, User
from liveroom.roles import AppRole

BOOLEAN_KEYS = ("liveRoomEnabled", "enableUserPrivateLiveRoom", "openInNewTab", "hideLocalLogin")
ROLE_KEYS = ("privateRoomMinimumRole",)
# Who may use audio and video when a meeting starts (staff change it in the meeting).
STAGE_MODE_KEYS = ("defaultStageMode",)
# The role of an account created without one (admin area, CLI, later single sign-on
# and CSV import). Never an admin role: a slip here would make every newcomer admin.
DEFAULT_ROLE_KEYS = ("defaultApplicationRole",)
# The languages people may choose (comma-separated codes, liveroom/i18n.py), and the
# one a browser gets when its Accept-Language names none of them.
LANGUAGE_LIST_KEYS = ("offeredLanguages",)
LANGUAGE_KEYS = ("defaultLanguage",)
# The log-in page shows only the single sign-on buttons (when a provider is
# configured); /login?local=1 always shows the password form.
LOGIN_KEYS = ("hideLocalLogin",)
DEFAULTS = {
    "liveRoomEnabled": "false",
    "enableUserPrivateLiveRoom": "false",
    "privateRoomMinimumRole": AppRole.PRIVATE_ONLY.value,
    "openInNewTab": "false",
    "defaultStageMode": StageMode.EVERYONE.value,
    "defaultApplicationRole": AppRole.VIEWER.value,
    "offeredLanguages": "en,es,ar",
    "defaultLanguage": "en",
    "hideLocalLogin": "false",
}
# Anonymous accounts never own rooms, whatever the setting says.
# Settings that change what a room's Start/Join box shows: open pages redraw it.
SWITCHES = (
    frozenset(DEFAULTS)
    - set(STAGE_MODE_KEYS)
    - set(DEFAULT_ROLE_KEYS)
    - set(LANGUAGE_LIST_KEYS)
    - set(LANGUAGE_KEYS)
    - set(LOGIN_KEYS)
)
MINIMUM_ROLE_CHOICES = [role for role in AppRole if role.at_least(AppRole.VIEWER)]
DEFAULT_ROLE_CHOICES = [role for role in AppRole if not role.is_admin]


@dataclass(frozen=True)
class SiteSettings:
    live_room_enabled: bool
    private_rooms_enabled: bool
    private_room_minimum_role: AppRole
    open_in_new_tab: bool
    default_stage_mode: StageMode = StageMode.EVERYONE
    offered_languages: tuple[str, ...] = ("en", "es", "ar")
    default_language: str = "en"
    hide_local_login: bool = False


def normalize(key: str, value: str) -> str:
    """The stored form of ``value`` for ``key``; ValueError with a readable reason."""
    if key in BOOLEAN_KEYS:
        lowered = value.strip().lower()
        if lowered in ("true", "on", "1", "yes"):
            return "true"
        if lowered in ("false", "off", "0", "no"):
            return "false"
        raise ValueError(_("%(key)s takes true or false, not '%(value)s'", key=key, value=value))
    if key in ROLE_KEYS:
        role = AppRole.from_key(value.strip())
        if role not in MINIMUM_ROLE_CHOICES:
            raise ValueError(_("%(key)s must be viewerRole or above", key=key))
        return role.value
    if key in STAGE_MODE_KEYS:
        return StageMode.from_key(value.strip()).value
    if key in DEFAULT_ROLE_KEYS:
        role = AppRole.from_key(value.strip())
        if role not in DEFAULT_ROLE_CHOICES:
            raise ValueError(_("%(key)s cannot be an admin role", key=key))
        return role.value
    if key in LANGUAGE_LIST_KEYS:
        codes = [code.strip() for code in value.split(",") if code.strip()]
        unknown = [code for code in codes if code not in LANGUAGES]
        if unknown:
            raise ValueError(
                _(
                    "%(key)s: unknown language '%(code)s' (expected some of: %(codes)s)",
                    key=key,
                    code=unknown[0],
                    codes=", ".join(LANGUAGES),
                )
            )
        if not codes:
            raise ValueError(_("%(key)s needs at least one language", key=key))
        return ",".join(dict.fromkeys(codes))
    if key in LANGUAGE_KEYS:
        code = value.strip()
        if code not in LANGUAGES:
            raise ValueError(
                _(
                    "%(key)s takes one of %(codes)s, not '%(value)s'",
                    key=key,
                    codes=", ".join(LANGUAGES),
                    value=value,
                )
            )
        return code
    raise ValueError(
        _(
            "unknown setting '%(key)s' (expected one of: %(keys)s)",
            key=key,
            keys=", ".join(DEFAULTS),
        )
    )


# Built once (every request reads the settings): a statement costs more to construct
# than this four-row query costs to run.
_STORED = sa.select(Setting.key, Setting.value)


def stored_values() -> dict[str, str]:
    """Every setting's stored value, or its default where none is stored."""
    values = dict(DEFAULTS)
    values.update(db.session.execute(_STORED).all())
    return values


@lru_cache(maxsize=32)
def _from_values(values: tuple[tuple[str, str], ...]) -> SiteSettings:
    """The settings these stored values mean (the same few combinations, over and over)."""
    stored = dict(values)
    return SiteSettings(
        live_room_enabled=stored["liveRoomEnabled"] == "true",
        private_rooms_enabled=stored["enableUserPrivateLiveRoom"] == "true",
        private_room_minimum_role=AppRole.from_key(stored["privateRoomMinimumRole"]),
        open_in_new_tab=stored["openInNewTab"] == "true",
        default_stage_mode=StageMode(stored["defaultStageMode"]),
        offered_languages=tuple(stored["offeredLanguages"].split(",")),
        default_language=stored["defaultLanguage"],
        hide_local_login=stored["hideLocalLogin"] == "true",
    )


def get_settings() -> SiteSettings:
    """The current settings, read once per request, and remembered by each worker
    until any process changes a setting (``liveroom/freshness.py``): an admin's
    change holds at once in every worker. (The app context is read directly: a page
    asks half a dozen times, and each look through ``g``'s proxy is a dozen calls.)"""
    ctx = _cv_app.get(None)
    if ctx is not None:
        settings = getattr(ctx.g, "site_settings", None)
        if settings is not None:
            return settings
    memory = freshness.memory()
    settings = memory.recall("settings", None) if memory else None
    if settings is None:
        stamp = memory.stamp() if memory else None
        settings = _from_values(tuple(sorted(stored_values().items())))
        if memory is not None:
            memory.keep("settings", None, settings, stamp)
    if ctx is not None:
        ctx.g.site_settings = settings
    return settings


def offered_languages() -> list[str]:
    """The languages people may choose; the default one is always among them."""
    settings = get_settings()
    codes = list(settings.offered_languages)
    if settings.default_language not in codes:
        codes.insert(0, settings.default_language)
    return codes


def default_language() -> str:
    return get_settings().default_language


def set_setting(key: str, value: str) -> str:
    """Validate and store one setting (the caller commits). Returns the stored value."""
    stored = normalize(key, value)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=stored))
    else:
        row.value = stored
    g.pop("site_settings", None)
    freshness.changed()
    return stored


def change_settings(
    wanted: dict[str, str], actor: User | None, note: str = ""
) -> dict[str, tuple[str, str]]:
    """Store settings, record each change in the audit log and commit; then end the
    meetings that a switch turned off. The admin page and the CLI both come here, so
    turning the module off ends meetings however it is done.

    Returns the changes as {key: (old, new)}; ValueError (nothing stored) for a bad value.
    """
    before = stored_values()
    stored = {key: normalize(key, value) for key, value in wanted.items()}
    changes = {key: (before[key], new) for key, new in stored.items() if new != before[key]}
    for key, new in stored.items():
        set_setting(key, new)
    for key, (old, new) in changes.items():
        db.session.add(
            AuditEntry(
                actor_id=actor.id if actor else None,
                action="setting_changed",
                detail=f"{key}: {old} → {new}{note}",
            )
        )
    if SWITCHES & changes.keys():
        # Pages showing a room's Start/Join box redraw it (or its "turned off" note).
        events.append(None, Kind.SITE_CHANGED, keys=sorted(SWITCHES & changes.keys()))
    db.session.commit()
    end_switched_off_meetings(changes, actor)
    return changes


def end_switched_off_meetings(changes: dict[str, tuple[str, str]], actor: User | None) -> int:
    """A meeting must not run on in a room nobody can reach any more: when live rooms
    (or private rooms) are turned off, their live meetings end with the reason
    "disabled", and every open page hears it. Returns how many ended."""
    # Meetings sit above settings (their policy reads them): import them late.
    from liveroom.rooms import meetings

    def turned_off(key: str) -> bool:
        return changes.get(key, ("", ""))[1] == "false"

    if turned_off("liveRoomEnabled"):
        rooms = sa.true()
    elif turned_off("enableUserPrivateLiveRoom"):
        rooms = Room.owner_id.is_not(None)
    else:
        return 0
    live = list(
        db.session.scalars(
            sa.select(LiveSession)
            .join(Room, LiveSession.room_id == Room.id)
            .where(LiveSession.ended_at.is_(None), rooms)
            .order_by(LiveSession.id)
        )
    )
    for session in live:
        meetings.end_session(session, actor, reason="disabled")
    return len(live)
