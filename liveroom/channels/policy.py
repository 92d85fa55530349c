"""Who may see channels, and what role a person holds in one."""

from __future__ import annotations

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, Membership, User
from liveroom.roles import AppRole, ChannelRole

# Built once: the policy asks on every page about a room of a channel.
_MEMBERSHIP_ROLE = sa.select(Membership.role).where(
    Membership.user_id == sa.bindparam("user_id"),
    Membership.channel_id == sa.bindparam("channel_id"),
)
_ROLES_KEY = "liveroom_membership_roles"


def takes_part(user: User) -> bool:
    """Signed in with a role above Anonymous: anonymous accounts take part in nothing."""
    return user.is_authenticated and user.role.at_least(AppRole.VIEWER)


def channel_role(user: User, channel: Channel) -> ChannelRole | None:
    """The user's role in a channel; admins act as Manager on every channel."""
    if not takes_part(user) or user.role.is_admin:
        return role_from(user, None)
    return role_from(user, _membership_role(user, channel.id))


def _membership_role(user: User, channel_id: int) -> ChannelRole | None:
    """The role the user's membership of the channel gives, None without one.

    Asked for this one channel rather than read from ``user.memberships``, which
    loads every membership the person has (a hundred for a busy teacher) on each
    request. The answer is kept until the database transaction ends, as the loaded
    collection was until a commit expired it: a page asks the policy several times
    about the same channel. A collection already loaded (with changes not yet
    flushed, say) is read as before: a loaded attribute is in the instance's
    ``__dict__`` (``sa.inspect(user).dict``), asked directly as it is asked often.
    """
    if "memberships" in user.__dict__:
        for membership in user.memberships:
            if membership.channel_id == channel_id:
                return membership.role
        return None
    key = (user.id, channel_id)
    roles = _kept_roles()
    if key in roles:
        return roles[key]
    role = db.session.scalar(_MEMBERSHIP_ROLE, {"user_id": user.id, "channel_id": channel_id})
    _kept_roles()[key] = role  # in the transaction the query began, if none was open
    return role


def note_membership_role(user: User, channel_id: int, role: ChannelRole | None) -> None:
    """Tell the policy the role the user's membership of the channel gives (None
    without one), read by a page's own statement: the channel page reads it with the
    channel, and the rules it then asks cost no statement of their own. Kept as
    ``_membership_role`` keeps its answers, until the transaction ends; the decisions
    stay here."""
    _kept_roles()[(user.id, channel_id)] = role


def _kept_roles() -> dict[tuple[int, int], ChannelRole | None]:
    """The membership roles known in the session's current transaction (a new, empty
    store once it ended: a commit may have changed them)."""
    session = db.session()
    transaction = session.get_transaction()
    kept_for, roles = session.info.get(_ROLES_KEY, (None, {}))
    if kept_for is None or kept_for is not transaction:
        roles = {}
        session.info[_ROLES_KEY] = (transaction, roles)
    return roles


def role_from(user: User, membership_role: ChannelRole | None) -> ChannelRole | None:
    """The user's role in a channel where their membership (if any) gives
    ``membership_role``: for lists that read memberships in their own query."""
    if not takes_part(user):
        return None
    if user.role.is_admin:
        return ChannelRole.MANAGER
    return membership_role


def may_view_channel(user: User, channel: Channel) -> bool:
    """Any signed-in viewer may open a channel page; only members get meeting buttons."""
    return takes_part(user)


def lists_all_channels(user: User) -> bool:
    """Admins see every channel in the list; others see the channels they belong to."""
    return user.role.is_admin


# --- Running channels (the admin console, a channel page's members) ----------------


def may_manage_channels(user: User) -> bool:
    """Create, rename, describe and archive channels: the site's admins."""
    return takes_part(user) and user.role.is_admin


def may_manage_members(user: User, channel: Channel) -> bool:
    """Add and remove a channel's members and change their roles: the site's admins
    on every channel, a channel's own Managers on theirs."""
    if not takes_part(user):
        return False
    if user.role.is_admin:
        return True
    return _membership_role(user, channel.id) is ChannelRole.MANAGER


def may_start_in(channel: Channel) -> bool:
    """An archived channel keeps its history but starts no meeting."""
    return channel.archived_at is None
