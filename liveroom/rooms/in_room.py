"""Inside a live session: chat, raised hands, and the instructors' moderation.

Every action answers 204 to HTMX: everyone, the actor included, sees its effect
through the room's event stream. Errors answer a readable fragment (4xx).
"""

from __future__ import annotations

from typing import NoReturn

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from liveroom.auth.sessions import signed_in_user
from liveroom.extensions import db
from liveroom.media.backend import withdraw_media
from liveroom.models import (
    ChatMessage,
    LiveSession,
    Participation,
    Room,
    WaitingEntry,
    utcnow,
)
from liveroom.params import parse_id
from liveroom.rooms import bp, captions, chat, meetings, moderation, policy, waiting
from liveroom.rooms.pages import load_room, no_content, require_join
from liveroom.rooms.policy import Rights
from liveroom.rooms.presence import people_present, presence_of
from liveroom.settings import get_settings


def live_context(public_id: str) -> tuple[Room, LiveSession, Participation | None, Rights]:
    """The room, its live meeting, the person's stay and their rights in it now (from
    their current roles, not the ones they entered with)."""
    room = load_room(public_id)
    require_join(room)
    session = meetings.live_session(room)
    if session is None:
        abort(409, _("This meeting has ended."))
    me = presence_of(session, signed_in_user())
    return room, session, me, moderation.rights_of(signed_in_user(), room, session, me)


# Why an action on a person is refused, by action: on oneself, on a staff instructor,
# and (for a moderator) on another moderator. Whole sentences, for the translations.
REFUSALS = {
    "change the role of": (
        _l("You cannot change the role of yourself."),
        _l("Nobody in the room can change the role of an instructor."),
        _l("Moderators cannot change the role of another moderator."),
    ),
    "remove": (
        _l("You cannot remove yourself."),
        _l("Nobody in the room can remove an instructor."),
        _l("Moderators cannot remove another moderator."),
    ),
    "mute": (
        _l("You cannot mute yourself."),
        _l("Nobody in the room can mute an instructor."),
        _l("Moderators cannot mute another moderator."),
    ),
    "turn off the camera of": (
        _l("You cannot turn off the camera of yourself."),
        _l("Nobody in the room can turn off the camera of an instructor."),
        _l("Moderators cannot turn off the camera of another moderator."),
    ),
    "stop the screen share of": (
        _l("You cannot stop the screen share of yourself."),
        _l("Nobody in the room can stop the screen share of an instructor."),
        _l("Moderators cannot stop the screen share of another moderator."),
    ),
    "allow to unmute": (
        _l("You cannot allow to unmute yourself."),
        _l("Nobody in the room can allow to unmute an instructor."),
        _l("Moderators cannot allow to unmute another moderator."),
    ),
    "invite or move": (
        _l("You cannot invite or move yourself."),
        _l("Nobody in the room can invite or move an instructor."),
        _l("Moderators cannot invite or move another moderator."),
    ),
    "change screen sharing for": (
        _l("You cannot change screen sharing for yourself."),
        _l("Nobody in the room can change screen sharing for an instructor."),
        _l("Moderators cannot change screen sharing for another moderator."),
    ),
}
# Why a moderator may not do what only staff do, by action.
STAFF_ONLY = {
    "turn participant chat off and on": _l(
        "Only the room's instructors can turn participant chat off and on; moderators cannot."
    ),
    "set or remove moderators": _l(
        "Only the room's instructors can set or remove moderators; moderators cannot."
    ),
    "lock and unlock the room": _l(
        "Only the room's instructors can lock and unlock the room; moderators cannot."
    ),
    "change who may use audio and video": _l(
        "Only the room's instructors can change who may use audio and video; moderators cannot."
    ),
}


def require_moderator(rights: Rights) -> None:
    """Staff and promoted instructors (present in the meeting) moderate participants."""
    if not rights.moderate:
        abort(403, _("Only the room's instructors and moderators can do that."))


def require_staff(rights: Rights, what: str) -> None:
    if not rights.staff:
        abort(403, str(STAFF_ONLY[what]))


def done(room: Room) -> Response:
    if request.htmx:
        return no_content()
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


def flag(name: str) -> bool:
    value = request.form.get(name, "")
    if value not in ("0", "1"):
        abort(400, _("“%(name)s” must be 1 or 0.", name=name))
    return value == "1"


def target_in(session: LiveSession, participation_id: int) -> Participation:
    target = db.session.get(Participation, participation_id)
    if target is None or target.session_id != session.id or target.left_at is not None:
        abort(404, _("That person is not in the room any more."))
    return target


def too_fast(seconds: int, what: str) -> NoReturn:
    again = ngettext(
        "You can try again in %(num)d second.", "You can try again in %(num)d seconds.", seconds
    )
    abort(429, f"{what} {again}")


# --- Chat ---------------------------------------------------------------------------


@bp.post("/rooms/<room:public_id>/chat")
def post_chat(public_id: str) -> Response | tuple[str, int]:
    room, session, me, rights = live_context(public_id)
    to = request.form.get("to", "").strip()
    if to == "instructors" or to == "":
        to_user_id = me.user_id if (to and me is not None) else None
    elif to.isascii() and to.isdigit():
        to_user_id = parse_id(to, "to")
    else:
        abort(400, _("Choose who the message is for."))
    try:
        chat.post_message(session, me, request.form.get("body", ""), to_user_id, rights)
    except chat.ChatError as error:
        return str(error), error.status
    if request.htmx:
        return "", 200  # clears the composer's error line; the message comes by stream
    return done(room)


@bp.post("/rooms/<room:public_id>/chat/<id:message_id>/delete")
def delete_chat(public_id: str, message_id: int) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    message = db.session.get(ChatMessage, message_id)
    unreadable = message is not None and not policy.may_read_message(
        signed_in_user().id, rights.reads_all_threads, message
    )
    if message is None or message.session_id != session.id or unreadable:
        # A private thread someone may not read does not exist for them at all.
        abort(404, _("That message is not in this meeting."))
    if not rights.may_delete(moderation.rank_in(session, message.author)):
        abort(403, _("Moderators can delete participants’ messages only."))
    chat.delete_message(message, signed_in_user())
    return done(room)


@bp.post("/rooms/<room:public_id>/chat/enabled")
def toggle_chat(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_staff(rights, "turn participant chat off and on")
    moderation.set_chat_enabled(session, flag("enabled"), signed_in_user())
    return done(room)


# --- Hands --------------------------------------------------------------------------


@bp.post("/rooms/<room:public_id>/hand")
def my_hand(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    if me is None:
        abort(403, _("Join the meeting to raise your hand."))
    wait = moderation.toggle_hand(me, flag("raised"))
    if wait:
        too_fast(wait, _("Your hand went up and down 10 times in 10 seconds."))
    return done(room)


@bp.post("/rooms/<room:public_id>/people/<id:participation_id>/hand/lower")
def lower_hand(public_id: str, participation_id: int) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    target = target_in(session, participation_id)
    if not rights.may_lower_hand(moderation.rank_of(target)):
        abort(403, _("Moderators can lower participants’ hands only."))
    moderation.set_hand(target, False)
    return done(room)


@bp.post("/rooms/<room:public_id>/hands/lower-all")
def lower_all_hands(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    moderation.lower_all_hands(session)
    return done(room)


# --- Everyone in a large room ---------------------------------------------------------


@bp.get("/rooms/<room:public_id>/people")
def everyone_present(public_id: str) -> Response | str:
    """The whole people list ("Show everyone" in a large room), for someone in the
    meeting (the room list shows the people near the top, presence.people_shown)."""
    room = load_room(public_id)
    require_join(room)
    session = meetings.live_session(room)
    if session is None:
        abort(409, _("This meeting has ended."))
    me = presence_of(session, signed_in_user())
    if me is None:
        abort(403, _("Join the meeting to see who is in it."))
    if not request.htmx:
        return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)
    # A page that only reads: the stored rank is left as it is (see rights_of).
    rights = moderation.rights_of(signed_in_user(), room, session, me, catch_up=False)
    people = people_present(session)
    html = render_template(
        "rooms/_people_everyone.html",
        room=room,
        rights=rights,
        people=people,
        captioner_id=session.captioner_id,
        now=utcnow(),
        message=ngettext(
            "Everyone in the room: %(num)s person listed.",
            "Everyone in the room: %(num)s people listed.",
            len(people),
        ),
    )
    return Response(html, headers={"Vary": "HX-Request"})


# --- Moderation -----------------------------------------------------------------------


def refuse_action_on(target: Participation, what: str) -> None:
    """403 with the reason: oneself, a staff instructor, or (for a moderator) another
    moderator."""
    oneself, instructor, moderator = REFUSALS[what]
    if target.user_id == signed_in_user().id:
        abort(403, str(oneself))
    if moderation.rank_of(target) is policy.Rank.STAFF:
        abort(403, str(instructor))
    abort(403, str(moderator))


@bp.post("/rooms/<room:public_id>/people/<id:participation_id>/role")
def change_role(public_id: str, participation_id: int) -> Response:
    room, session, me, rights = live_context(public_id)
    require_staff(rights, "set or remove moderators")
    target = target_in(session, participation_id)
    role = request.form.get("role", "")
    if role not in ("instructor", "participant"):
        abort(400, _("Choose instructor or participant."))
    if not rights.may_change_role(moderation.rank_of(target), target.user_id):
        refuse_action_on(target, "change the role of")
    moderation.set_moderator(target, role == "instructor", signed_in_user())
    return done(room)


@bp.post("/rooms/<room:public_id>/people/<id:participation_id>/remove")
def remove_person(public_id: str, participation_id: int) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    target = target_in(session, participation_id)
    if not rights.may_remove(moderation.rank_of(target), target.user_id):
        refuse_action_on(target, "remove")
    moderation.remove_person(target, signed_in_user())
    withdraw_media(session, target)
    return done(room)


@bp.post("/rooms/<room:public_id>/lock")
def lock_room(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_staff(rights, "lock and unlock the room")
    moderation.set_locked(session, flag("locked"), signed_in_user())
    return done(room)


@bp.post("/rooms/<room:public_id>/waiting/<id:entry_id>/<any(admit, deny):decision>")
def decide_waiting(public_id: str, entry_id: int, decision: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    entry = db.session.get(WaitingEntry, entry_id)
    if entry is None or entry.session_id != session.id:
        abort(404, _("That person is not in the waiting room."))
    admit = decision == "admit"
    entry_is_staff = policy.is_staff(entry.user, room, get_settings())
    if not rights.may_decide(admit, entry_is_staff):
        abort(403, _("Nobody can keep an instructor out of their own meeting."))
    if entry.decision is not None or not waiting.decide(session, [entry], admit, signed_in_user()):
        abort(409, _("Someone already answered that request."))
    return done(room)


@bp.post("/rooms/<room:public_id>/waiting/admit-all")
def admit_all(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    waiting.decide(session, waiting.waiting_people(session), True, signed_in_user())
    return done(room)


# --- Live captions --------------------------------------------------------------------


@bp.post("/rooms/<room:public_id>/people/<id:participation_id>/captioner")
def set_captioner(public_id: str, participation_id: int) -> Response:
    """ "Make captioner" (``on=1``) and "Stop captions" (``on=0``) in a person's menu."""
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    target = target_in(session, participation_id)
    on = flag("on")
    rank = moderation.rank_of(target)
    if not on:
        if session.captioner_id != target.user_id:
            abort(409, _("That person is not writing the captions any more."))
        if not rights.may_stop_captions(rank, target.user_id):
            abort(403, _("Moderators can stop the captions of participants only."))
        if not captions.stop_captions(session, signed_in_user(), target.user_id):
            abort(409, _("That person is not writing the captions any more."))
        return done(room)
    if not rights.may_name_captioner(rank, target.user_id):
        if target.user_id == signed_in_user().id:
            abort(403, _("You cannot make yourself the captioner."))
        if rank is policy.Rank.STAFF:
            abort(403, _("Nobody in the room can make an instructor the captioner."))
        abort(403, _("Moderators can make participants the captioner, not another moderator."))
    try:
        captions.name_captioner(session, target, signed_in_user())
    except captions.CaptionError as error:
        abort(error.status, str(error))
    return done(room)


@bp.post("/rooms/<room:public_id>/captions/stop")
def stop_captions(public_id: str) -> Response:
    """ "Stop captions" under the stage: the captioner themself, or an instructor."""
    room, session, me, rights = live_context(public_id)
    captioner_id = session.captioner_id
    if captioner_id is None:
        abort(409, _("Captions are off already."))
    stay = captions.captioner_stay(session)
    rank = moderation.rank_of(stay) if stay is not None else policy.Rank.PARTICIPANT
    if not rights.may_stop_captions(rank, captioner_id):
        abort(403, _("Only the captioner and the room's instructors can stop the captions."))
    if not captions.stop_captions(session, signed_in_user(), captioner_id):
        abort(409, _("Captions are off already."))
    return done(room)


@bp.post("/rooms/<room:public_id>/captions")
def post_caption(public_id: str) -> Response | tuple[str, int]:
    """A line of captions from the captioner; everyone gets it through the stream."""
    room, session, me, rights = live_context(public_id)
    try:
        captions.post_caption(session, me, request.form.get("body", ""))
    except captions.CaptionError as error:
        return str(error), error.status
    if request.htmx:
        return "", 200  # clears the composer's error line; the line comes by stream
    return done(room)
