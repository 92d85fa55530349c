"""Roles, with MediaSpace's names.

Application roles are ordered, so rules can say "Private Only or above".
Channel roles are what a membership grants in one channel; room roles are what a
person is inside one live session.
"""

from __future__ import annotations

import enum

# The English labels are what CSV files name a role by, in any language (N_ marks
# them for the catalogues); ``label`` translates one as it is shown.
from liveroom.i18n import N_, gettext


class AppRole(enum.Enum):
    """A user's application role. The value is MediaSpace's role key."""

    ANONYMOUS = "anonymousRole"
    VIEWER = "viewerRole"
    PRIVATE_ONLY = "privateOnlyRole"
    ADMIN = "adminRole"
    UNMODERATED_ADMIN = "unmoderatedAdminRole"

    # Set on each member below, from _APP_ROLE_ORDER: every page asks them several
    # times (the policy's rules, the user menu), and a plain attribute costs no call.
    rank: int
    is_admin: bool

    @property
    def label(self) -> str:
        """The role's name as people read it, in the request's language."""
        return gettext(_APP_ROLE_LABELS[self])

    @property
    def english(self) -> str:
        """The role's English name: what CSV files write and read back."""
        return _APP_ROLE_LABELS[self]

    def at_least(self, other: AppRole) -> bool:
        return self.rank >= other.rank

    @classmethod
    def from_key(cls, key: str) -> AppRole:
        """The role for a key such as ``viewerRole``; ValueError names the valid keys."""
        for role in cls:
            if role.value == key:
                return role
        raise ValueError(
            gettext(
                "unknown role '%(key)s' (expected one of: %(keys)s)",
                key=key,
                keys=", ".join(app_role_keys()),
            )
        )


_APP_ROLE_ORDER = [
    AppRole.ANONYMOUS,
    AppRole.VIEWER,
    AppRole.PRIVATE_ONLY,
    AppRole.ADMIN,
    AppRole.UNMODERATED_ADMIN,
]
_APP_ROLE_LABELS = {
    AppRole.ANONYMOUS: N_("Anonymous"),
    AppRole.VIEWER: N_("Viewer"),
    AppRole.PRIVATE_ONLY: N_("Private Only"),
    AppRole.ADMIN: N_("Admin"),
    AppRole.UNMODERATED_ADMIN: N_("Unmoderated Admin"),
}
for _rank, _role in enumerate(_APP_ROLE_ORDER):
    _role.rank = _rank
    _role.is_admin = _rank >= _APP_ROLE_ORDER.index(AppRole.ADMIN)
del _rank, _role


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
        """The role's name as people read it, in the request's language."""
        return gettext(_CHANNEL_ROLE_LABELS[self])

    @property
    def english(self) -> str:
        """The role's English name: what CSV files write and read back."""
        return _CHANNEL_ROLE_LABELS[self]

    @property
    def runs_meetings(self) -> bool:
        return self in (ChannelRole.MANAGER, ChannelRole.MODERATOR)

    @classmethod
    def from_key(cls, key: str) -> ChannelRole:
        try:
            return cls(key.lower())
        except ValueError:
            keys = "|".join(role.value for role in cls)
            raise ValueError(
                gettext("unknown channel role '%(key)s' (expected %(keys)s)", key=key, keys=keys)
            ) from None


_CHANNEL_ROLE_LABELS = {
    ChannelRole.MANAGER: N_("Manager"),
    ChannelRole.MODERATOR: N_("Moderator"),
    ChannelRole.CONTRIBUTOR: N_("Contributor"),
    ChannelRole.MEMBER: N_("Member"),
}


class RoomRole(enum.Enum):
    """A person's role inside a live session."""

    INSTRUCTOR = "instructor"
    PARTICIPANT = "participant"

    @property
    def label(self) -> str:
        return gettext(_ROOM_ROLE_LABELS[self])


_ROOM_ROLE_LABELS = {RoomRole.INSTRUCTOR: N_("Instructor"), RoomRole.PARTICIPANT: N_("Participant")}


# --- Ranks inside a room ----------------------------------------------------------
# Staff instructors (a channel's Managers and Moderators, the site's admins, a private
# room's owner) above promoted instructors ("Set as moderator") above participants.
# Who holds which rank is the room policy's rule (liveroom/rooms/policy.py).


class Rank(enum.IntEnum):
    PARTICIPANT = 0
    PROMOTED = 1
    STAFF = 2

    @property
    def is_instructor(self) -> bool:
        return self >= Rank.PROMOTED

    @property
    def badge(self) -> str:
        """What the people list calls someone of this rank, in the request's language
        (the live hub draws each audience's lists in its own)."""
        return gettext(_BADGES[self])

    @property
    def room_role(self) -> RoomRole:
        """The stored room role that goes with this rank (lists and sorting read it)."""
        return RoomRole.INSTRUCTOR if self.is_instructor else RoomRole.PARTICIPANT


_BADGES = {
    Rank.STAFF: N_("Instructor"),
    Rank.PROMOTED: N_("Moderator"),
    Rank.PARTICIPANT: N_("Participant"),
}


def acts_on(actor: Rank, target: Rank) -> bool:
    """Whom a rank may moderate: staff anyone who is not staff, promoted instructors
    participants only. Nobody acts on a staff instructor."""
    if actor is Rank.STAFF:
        return target is not Rank.STAFF
    if actor is Rank.PROMOTED:
        return target is Rank.PARTICIPANT
    return False
