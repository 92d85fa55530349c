"""Who may see channels, and what role a person holds in one."""

from __future__ import annotations

from liveroom.models import Channel, User
from liveroom.roles import AppRole, ChannelRole


def takes_part(user: User) -> bool:
    """Signed in with a role above Anonymous: anonymous accounts take part in nothing."""
    return user.is_authenticated and user.role.at_least(AppRole.VIEWER)


def channel_role(user: User, channel: Channel) -> ChannelRole | None:
    """The user's role in a channel; admins act as Manager on every channel."""
    if not takes_part(user):
        return None
    if user.role.is_admin:
        return ChannelRole.MANAGER
    for membership in user.memberships:
        if membership.channel_id == channel.id:
            return membership.role
    return None


def may_view_channel(user: User, channel: Channel) -> bool:
    """Any signed-in viewer may open a channel page; only members get meeting buttons."""
    return takes_part(user)


def lists_all_channels(user: User) -> bool:
    """Admins see every channel in the list; others see the channels they belong to."""
    return user.role.is_admin
