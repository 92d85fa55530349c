"""Who may do what with rooms. Pure functions of (user, thing, settings).

Views, templates (through flags the views pass) and tests call these; no other
module decides a permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from liveroom.channels.policy import channel_role, takes_part
from liveroom.media import rules as media_rules
from liveroom.models import ChatMessage, LiveSession, Participation, Room, User, WaitingEntry
from liveroom.roles import Rank, RoomRole, acts_on
from liveroom.settings import SiteSettings


def may_see_my_rooms(user: User, settings: SiteSettings) -> bool:
    """My Rooms shows in the user menu, and private rooms may be created."""
    return (
        settings.live_room_enabled
        and settings.private_rooms_enabled
        and takes_part(user)
        and user.role.at_least(settings.private_room_minimum_role)
    )


def may_manage_private_room(user: User, room: Room, settings: SiteSettings) -> bool:
    """Rename or delete a private room: its owner, while My Rooms is theirs."""
    return (
        room.is_private
        and room.archived_at is None
        and room.owner_id == user.id
        and may_see_my_rooms(user, settings)
    )


def room_reachable(room: Room, settings: SiteSettings) -> bool:
    """Whether the room exists for anyone at all (otherwise its URLs answer 404)."""
    if not settings.live_room_enabled:
        return False
    return not room.is_private or settings.private_rooms_enabled


def may_start(user: User, room: Room, settings: SiteSettings) -> bool:
    """Start Meeting: a channel's Managers and Moderators, a private room's owner;
    never in an archived channel or room (``is_archived``)."""
    if not room_reachable(room, settings) or not takes_part(user) or is_archived(room):
        return False
    if room.is_private:
        return room.owner_id == user.id and may_see_my_rooms(user, settings)
    role = channel_role(user, room.channel)
    return role is not None and role.runs_meetings


def is_archived(room: Room) -> bool:
    """The room (or its channel) was archived: its history stays, no meeting starts."""
    if room.archived_at is not None:
        return True
    return room.channel is not None and room.channel.archived_at is not None


def may_join(user: User, room: Room, settings: SiteSettings) -> bool:
    """Join Meeting: any channel member; anyone signed in who has a private room's link."""
    if not room_reachable(room, settings) or not takes_part(user):
        return False
    if room.is_private:
        return True
    return channel_role(user, room.channel) is not None


# --- Ranks inside a room ----------------------------------------------------------
# Staff instructors (a channel's Managers and Moderators, the site's admins, a private
# room's owner) above promoted instructors ("Set as moderator") above participants.
# A rank (``Rank``, in liveroom/roles.py) is computed from the current channel and
# application roles on every action, never remembered from entry: a Manager made
# Member mid-meeting loses the controls.


def is_staff(user: User, room: Room, settings: SiteSettings) -> bool:
    """A staff instructor of this room: a channel's Managers and Moderators, or a
    private room's owner, and the site's admins everywhere. Nobody in the room can
    demote, remove or deny them."""
    if not room_reachable(room, settings) or not takes_part(user):
        return False
    if user.role.is_admin:
        return True
    if room.is_private:
        return room.owner_id == user.id
    role = channel_role(user, room.channel)
    return role is not None and role.runs_meetings


def room_rank(user: User, room: Room, me: Participation | None, settings: SiteSettings) -> Rank:
    """The person's rank now: staff by their current roles, else promoted if their stay
    in this meeting says "Set as moderator", else participant."""
    return rank_from(is_staff(user, room, settings), me)


def rank_from(staff: bool, me: Participation | None) -> Rank:
    """``room_rank`` when the request has already asked ``is_staff``: Join asks it
    before its commit, and asking again after it would read the roles again."""
    if staff:
        return Rank.STAFF
    if me is not None and me.promoted:
        return Rank.PROMOTED
    return Rank.PARTICIPANT


def shown_rank(person: Participation) -> Rank:
    """The rank a stay records (``room_role`` and ``promoted``, kept in step with the
    roles by ``moderation.follow_roles``): what lists show without asking every person's
    channel roles again."""
    if person.room_role is not RoomRole.INSTRUCTOR:
        return Rank.PARTICIPANT
    return Rank.PROMOTED if person.promoted else Rank.STAFF


def may_end(
    user: User, room: Room, participation: Participation | None, settings: SiteSettings
) -> bool:
    """End the meeting for everyone: staff instructors, by their current roles (a
    promoted instructor cannot). Someone never in the meeting may if they may start
    the room."""
    if participation is None:
        return may_start(user, room, settings)
    return is_staff(user, room, settings) and may_join(user, room, settings)


def may_view_attendance(user: User, room: Room, settings: SiteSettings) -> bool:
    """A channel's Managers and Moderators (and admins); a private room's owner.
    Archiving keeps it: the rule is Start Meeting's as if the room were not archived."""
    if not room_reachable(room, settings) or not takes_part(user):
        return False
    if room.is_private:
        # An archived room's owner no longer lists it; the school's admins keep its record.
        if room.archived_at is not None and user.role.is_admin:
            return True
        return room.owner_id == user.id and may_see_my_rooms(user, settings)
    role = channel_role(user, room.channel)
    return role is not None and role.runs_meetings


# --- Inside a live session -------------------------------------------------------


def is_present(me: Participation | None) -> bool:
    return me is not None and me.left_at is None


def is_instructor(me: Participation | None) -> bool:
    """Present with an instructor's room role (staff or promoted)."""
    return is_present(me) and me.room_role is RoomRole.INSTRUCTOR


def may_chat(me: Participation | None, session: LiveSession) -> bool:
    """Instructors can always write; participants while participant chat is on."""
    if not is_present(me) or session.ended_at is not None:
        return False
    return is_instructor(me) or session.chat_enabled


def may_caption(me: Participation | None, session: LiveSession) -> bool:
    """Write live captions: the captioner an instructor named, while present in a
    meeting that goes on."""
    return (
        is_present(me)
        and session.ended_at is None
        and session.captioner_id is not None
        and session.captioner_id == me.user_id
    )


def may_read_message(viewer_id: int, reads_all_threads: bool, message: ChatMessage) -> bool:
    """A private thread is between one person and the staff instructors: staff read
    every thread, everyone else (a promoted instructor too) only their own."""
    return (
        message.thread_user_id is None or reads_all_threads or message.thread_user_id == viewer_id
    )


@dataclass(frozen=True)
class PersonMenu:
    """What a viewer is offered on one person of the people list."""

    badge: str
    staff: bool
    moderator: bool
    set_moderator: bool = False
    make_participant: bool = False
    lower_hand: bool = False
    message_privately: bool = False
    remove: bool = False
    # Media (liveroom/media/rules.py): what is on can be turned off, never on.
    mute: bool = False
    camera_off: bool = False
    stop_share: bool = False
    allow_unmute: bool = False
    invite_to_stage: bool = False
    remove_from_stage: bool = False
    allow_share: bool = False
    stop_allow_share: bool = False
    # Live captions: name this person the captioner, or stop their captions.
    make_captioner: bool = False
    stop_captions: bool = False

    @property
    def has_actions(self) -> bool:
        return any(
            (
                self.set_moderator,
                self.make_participant,
                self.lower_hand,
                self.message_privately,
                self.remove,
                self.mute,
                self.camera_off,
                self.stop_share,
                self.allow_unmute,
                self.invite_to_stage,
                self.remove_from_stage,
                self.allow_share,
                self.stop_allow_share,
                self.make_captioner,
                self.stop_captions,
            )
        )


@dataclass(frozen=True)
class Rights:
    """What one person (or one audience of a stream) may do in a live session.

    Views build it from the actor's current rank; the stream renders once per rank.
    Templates read its flags and never decide a permission themselves.
    """

    rank: Rank
    present: bool = True
    me_id: int | None = None
    # Users whose latest stay in this meeting is an instructor's: a promoted
    # instructor may delete messages of participants only.
    instructor_ids: frozenset[int] = field(default_factory=frozenset)
    # People in the waiting room who are staff (stale entries): never denied.
    staff_waiting: frozenset[int] = field(default_factory=frozenset)

    @property
    def staff(self) -> bool:
        return self.present and self.rank is Rank.STAFF

    @property
    def promoted(self) -> bool:
        return self.present and self.rank is Rank.PROMOTED

    @property
    def instructor(self) -> bool:
        return self.present and self.rank.is_instructor

    @property
    def moderate(self) -> bool:
        """Lower hands, admit and deny, delete messages, remove participants."""
        return self.instructor

    @property
    def run_room(self) -> bool:
        """Lock the room, turn participant chat off and on: staff only."""
        return self.staff

    @property
    def reads_all_threads(self) -> bool:
        return self.staff

    def acts_on(self, target: Rank, target_user_id: int | None = None) -> bool:
        if not self.present or (target_user_id is not None and target_user_id == self.me_id):
            return False
        return acts_on(self.rank, target)

    def may_change_role(self, target: Rank, target_user_id: int | None = None) -> bool:
        """Only staff promote or demote, and never another staff instructor."""
        return self.staff and self.acts_on(target, target_user_id)

    def may_remove(self, target: Rank, target_user_id: int | None = None) -> bool:
        return self.moderate and self.acts_on(target, target_user_id)

    def may_lower_hand(self, target: Rank) -> bool:
        return self.moderate and acts_on(self.rank, target)

    def offers_lower_hand(self, person: Participation) -> bool:
        return self.may_lower_hand(shown_rank(person))

    def may_decide(self, admit: bool, entry_is_staff: bool) -> bool:
        """Anyone who moderates admits; nobody denies a staff instructor."""
        return self.moderate and (admit or not entry_is_staff)

    def offers_deny(self, entry: WaitingEntry) -> bool:
        return self.may_decide(False, entry.user_id in self.staff_waiting)

    def may_delete(self, author: Rank) -> bool:
        return self.moderate and (self.staff or author is Rank.PARTICIPANT)

    def offers_delete(self, message: ChatMessage) -> bool:
        """The delete button on a message already shown (the author's rank as stored)."""
        if self.staff:
            return True
        author = Rank.PROMOTED if message.author_id in self.instructor_ids else Rank.PARTICIPANT
        return self.may_delete(author)

    def may_name_captioner(self, target: Rank, target_user_id: int | None = None) -> bool:
        """Name someone present the captioner: whoever moderates, on whom they act
        (staff on anyone who is not staff, promoted instructors on participants)."""
        return self.moderate and self.acts_on(target, target_user_id)

    def may_stop_captions(self, captioner: Rank, captioner_user_id: int | None = None) -> bool:
        """Stop the captions: the captioner themself, or an instructor who may act on
        them (as ``may_name_captioner``)."""
        if not self.present:
            return False
        if captioner_user_id is not None and captioner_user_id == self.me_id:
            return True
        return self.moderate and acts_on(self.rank, captioner)

    def menu(self, person: Participation, captioner_id: int | None = None) -> PersonMenu:
        """The person's badge and the actions this viewer is offered on them
        (``captioner_id``: whom the meeting's captions are by, if anyone)."""
        target = shown_rank(person)
        captioning = captioner_id is not None and person.user_id == captioner_id
        # Rendered once per audience, so the viewer's own row is recognised by rank:
        # staff never act on staff, promoted instructors never on instructors.
        return PersonMenu(
            badge=target.badge,
            staff=target is Rank.STAFF,
            moderator=target is Rank.PROMOTED,
            set_moderator=self.may_change_role(target) and target is Rank.PARTICIPANT,
            make_participant=self.may_change_role(target) and target is Rank.PROMOTED,
            lower_hand=self.may_lower_hand(target) and person.hand_raised_at is not None,
            message_privately=self.staff and target is Rank.PARTICIPANT,
            remove=self.may_remove(target),
            make_captioner=not captioning and self.may_name_captioner(target),
            stop_captions=captioning and self.moderate and acts_on(self.rank, target),
            **self.media_menu(person, target),
        )

    def media_menu(self, person: Participation, target: Rank) -> dict[str, bool]:
        """The media actions offered on a person (who may is media.rules' to say)."""
        if not (self.present and media_rules.may_act_on_media(self.rank, target)):
            return {}
        participant = target is Rank.PARTICIPANT
        return {
            "mute": person.mic_on,
            "camera_off": person.camera_on,
            "stop_share": person.screen_on,
            "allow_unmute": person.strong_muted,
            "invite_to_stage": participant and not person.on_stage,
            "remove_from_stage": participant and person.on_stage,
            "allow_share": participant and not person.may_share,
            "stop_allow_share": participant and person.may_share,
        }


def rights_for(rank: Rank, me: Participation | None, **known: frozenset[int]) -> Rights:
    return Rights(rank=rank, present=is_present(me), me_id=me.user_id if me else None, **known)
