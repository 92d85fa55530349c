"""Who may do what with rooms. Pure functions of (user, thing, settings).

Views, templates (through flags the views pass) and tests call these; no other
module decides a permission.
"""

from __future__ import annotations

from liveroom.channels.policy import channel_role, takes_part
from liveroom.models import Participation, Room, User
from liveroom.roles import RoomRole
from liveroom.settings import SiteSettings


def may_see_my_rooms(user: User, settings: SiteSettings) -> bool:
    """My Rooms shows in the user menu, and private rooms may be created."""
    return (
        settings.live_room_enabled
        and settings.private_rooms_enabled
        and takes_part(user)
        and user.role.at_least(settings.private_room_minimum_role)
    )


may_create_room = may_see_my_rooms


def room_reachable(room: Room, settings: SiteSettings) -> bool:
    """Whether the room exists for anyone at all (otherwise its URLs answer 404)."""
    if not settings.live_room_enabled:
        return False
    return not room.is_private or settings.private_rooms_enabled


def may_start(user: User, room: Room, settings: SiteSettings) -> bool:
    """Start Meeting: a channel's Managers and Moderators, a private room's owner."""
    if not room_reachable(room, settings) or not takes_part(user):
        return False
    if room.is_private:
        return room.owner_id == user.id and may_see_my_rooms(user, settings)
    role = channel_role(user, room.channel)
    return role is not None and role.runs_meetings


def may_join(user: User, room: Room, settings: SiteSettings) -> bool:
    """Join Meeting: any channel member; anyone signed in who has a private room's link."""
    if not room_reachable(room, settings) or not takes_part(user):
        return False
    if room.is_private:
        return True
    return channel_role(user, room.channel) is not None


def room_role_for(user: User, room: Room, settings: SiteSettings) -> RoomRole:
    """Whoever may start a room enters it with full instructor permissions."""
    return RoomRole.INSTRUCTOR if may_start(user, room, settings) else RoomRole.PARTICIPANT


def may_end(
    user: User, room: Room, participation: Participation | None, settings: SiteSettings
) -> bool:
    """End the meeting for everyone: the room's instructors."""
    if may_start(user, room, settings):
        return True
    return (
        participation is not None
        and participation.left_at is None
        and participation.room_role is RoomRole.INSTRUCTOR
        and may_join(user, room, settings)
    )
