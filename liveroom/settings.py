"""Site settings: stored in the database, edited by admins on a page or by CLI."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_app_context

from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Room, Setting, User
from liveroom.roles import AppRole

BOOLEAN_KEYS = ("liveRoomEnabled", "enableUserPrivateLiveRoom", "openInNewTab")
ROLE_KEYS = ("privateRoomMinimumRole",)
DEFAULTS = {
    "liveRoomEnabled": "false",
    "enableUserPrivateLiveRoom": "false",
    "privateRoomMinimumRole": AppRole.PRIVATE_ONLY.value,
    "openInNewTab": "false",
}
# Anonymous accounts never own rooms, whatever the setting says.
MINIMUM_ROLE_CHOICES = [role for role in AppRole if role.at_least(AppRole.VIEWER)]


@dataclass(frozen=True)
class SiteSettings:
    live_room_enabled: bool
    private_rooms_enabled: bool
    private_room_minimum_role: AppRole
    open_in_new_tab: bool


def normalize(key: str, value: str) -> str:
    """The stored form of ``value`` for ``key``; ValueError with a readable reason."""
    if key in BOOLEAN_KEYS:
        lowered = value.strip().lower()
        if lowered in ("true", "on", "1", "yes"):
            return "true"
        if lowered in ("false", "off", "0", "no"):
            return "false"
        raise ValueError(f"{key} takes true or false, not '{value}'")
    if key in ROLE_KEYS:
        role = AppRole.from_key(value.strip())
        if role not in MINIMUM_ROLE_CHOICES:
            raise ValueError(f"{key} must be viewerRole or above")
        return role.value
    raise ValueError(f"unknown setting '{key}' (expected one of: {', '.join(DEFAULTS)})")


def stored_values() -> dict[str, str]:
    values = dict(DEFAULTS)
    values.update({row.key: row.value for row in db.session.scalars(sa.select(Setting))})
    return values


def get_settings() -> SiteSettings:
    """The current settings, read once per request."""
    if has_app_context() and "site_settings" in g:
        return g.site_settings
    values = stored_values()
    settings = SiteSettings(
        live_room_enabled=values["liveRoomEnabled"] == "true",
        private_rooms_enabled=values["enableUserPrivateLiveRoom"] == "true",
        private_room_minimum_role=AppRole.from_key(values["privateRoomMinimumRole"]),
        open_in_new_tab=values["openInNewTab"] == "true",
    )
    if has_app_context():
        g.site_settings = settings
    return settings


def set_setting(key: str, value: str) -> str:
    """Validate and store one setting (the caller commits). Returns the stored value."""
    stored = normalize(key, value)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=stored))
    else:
        row.value = stored
    g.pop("site_settings", None)
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
    db.session.commit()
    end_switched_off_meetings(changes, actor)
    return changes


def end_switched_off_meetings(changes: dict[str, tuple[str, str]], actor: User | None) -> int:
    """A meeting must not run on in a room nobody can reach any more: when live rooms
    (or private rooms) are turned off, their live meetings end with the reason
    "disabled", and every open page hears it. Returns how many ended."""
    # The rooms service sits above settings (its policy reads them): import it late.
    from liveroom.rooms import service

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
        service.end_session(session, actor, reason="disabled")
    return len(live)
