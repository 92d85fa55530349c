"""Roles, with MediaSpace's names.

Application roles are ordered, so rules can say "Private Only or above".
Channel roles are what a membership grants in one channel; room roles are what a
person is inside one live session.
"""

from __future__ import annotations

import enum


class AppRole(enum.Enum):
    """A user's application role. The value is MediaSpace's role key."""

    ANONYMOUS = "anonymousRole"
    VIEWER = "viewerRole"
    PRIVATE_ONLY = "privateOnlyRole"
    ADMIN = "adminRole"
    UNMODERATED_ADMIN = "unmoderatedAdminRole"

    @property
    def rank(self) -> int:
        return _APP_ROLE_ORDER.index(self)

    @property
    def label(self) -> str:
        return _APP_ROLE_LABELS[self]

    @property
    def is_admin(self) -> bool:
        return self.rank >= AppRole.ADMIN.rank

    def at_least(self, other: AppRole) -> bool:
        return self.rank >= other.rank

    @classmethod
    def from_key(cls, key: str) -> AppRole:
        """The role for a key such as ``viewerRole``; ValueError names the valid keys."""
        for role in cls:
            if role.value == key:
                return role
        raise ValueError(f"unknown role '{key}' (expected one of: {', '.join(app_role_keys())})")


_APP_ROLE_ORDER = [
    AppRole.ANONYMOUS,
    AppRole.VIEWER,
    AppRole.PRIVATE_ONLY,
    AppRole.ADMIN,
    AppRole.UNMODERATED_ADMIN,
]
_APP_ROLE_LABELS = {
    AppRole.ANONYMOUS: "Anonymous",
    AppRole.VIEWER: "Viewer",
    AppRole.PRIVATE_ONLY: "Private Only",
    AppRole.ADMIN: "Admin",
    AppRole.UNMODERATED_ADMIN: "Unmoderated Admin",
}


def app_role_keys() -> list[str]:
    return [role.value for role in _APP_ROLE_ORDER]


class ChannelRole(enum.Enum):
    """What a channel membership grants. Managers and Moderators run meetings."""

    MANAGER = "manager"
    MODERATOR = "moderator"
    CONTRIBUTOR = "contributor"
    MEMBER = "member"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def runs_meetings(self) -> bool:
        return self in (ChannelRole.MANAGER, ChannelRole.MODERATOR)

    @classmethod
    def from_key(cls, key: str) -> ChannelRole:
        try:
            return cls(key.lower())
        except ValueError:
            keys = "|".join(role.value for role in cls)
            raise ValueError(f"unknown channel role '{key}' (expected {keys})") from None


class RoomRole(enum.Enum):
    """A person's role inside a live session."""

    INSTRUCTOR = "instructor"
    PARTICIPANT = "participant"

    @property
    def label(self) -> str:
        return self.value.capitalize()
