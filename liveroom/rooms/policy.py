"""Who may do what with rooms. Pure functions of (user, thing, settings).

Views, templates (through flags the views pass) and tests call these; no other
module decides a permission.
"""

from __future__ import annotations

from liveroom.channels.policy import channel_role, takes_part
from liveroom.models import ChatMessage, LiveSession, Participation, Room, User
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
    """End the meeting for everyone: its instructors. ``participation`` is the person's
    latest stay in this meeting, if any: a Manager demoted to participant here cannot,
    even after leaving; someone never in it may if they may start the room."""
    if participation is not None:
        return participation.room_role is RoomRole.INSTRUCTOR and may_join(user, room, settings)
    return may_start(user, room, settings)


# --- Inside a live session -------------------------------------------------------
# Room rights follow the person's current room role in the session (``me``), so a
# participant made instructor gets the controls at once, and keeps them on refresh.


def is_instructor(me: Participation | None) -> bool:
    return me is not None and me.left_at is None and me.room_role is RoomRole.INSTRUCTOR


def may_moderate(me: Participation | None) -> bool:
    """Lock, admit, lower hands, delete messages, change roles, remove people."""
    return is_instructor(me)


def may_chat(me: Participation | None, session: LiveSession) -> bool:
    """Instructors can always write; participants while participant chat is on."""
    if me is None or me.left_at is not None or session.ended_at is not None:
        return False
    return is_instructor(me) or session.chat_enabled


def is_permanent_instructor(room: Room, user_id: int) -> bool:
    """A private room's owner: nobody can demote or remove them."""
    return room.owner_id is not None and room.owner_id == user_id


def may_change_role(me: Participation | None, target: Participation, room: Room) -> bool:
    return (
        may_moderate(me)
        and target.user_id != me.user_id
        and not is_permanent_instructor(room, target.user_id)
    )


may_remove = may_change_role


def may_view_attendance(user: User, room: Room, settings: SiteSettings) -> bool:
    """A channel's Managers and Moderators (and admins); a private room's owner."""
    return may_start(user, room, settings)


def bypasses_lock(user: User, room: Room, settings: SiteSettings) -> bool:
    """Whoever may start the room walks into it even when it is locked."""
    return may_start(user, room, settings)


def may_read_message(viewer_id: int, viewer_is_instructor: bool, message: ChatMessage) -> bool:
    """Private messages are for their participant and the instructors only."""
    return (
        message.thread_user_id is None
        or viewer_is_instructor
        or message.thread_user_id == viewer_id
    )
