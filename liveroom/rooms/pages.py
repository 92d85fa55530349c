"""What a page about a room shows: the room's meeting box in each of its states, and the
checks every room view makes first.

Both the rooms views and the channel page (which shows its room's meeting box) build
their pages from here, so this module knows no blueprint: it sits below both.
"""

from __future__ import annotations

import dataclasses
import time
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Response,
    abort,
    current_app,
    has_request_context,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from liveroom import events
from liveroom.auth.sessions import signed_in_user
from liveroom.channels.policy import note_membership_role
from liveroom.extensions import db
from liveroom.media.backend import backend_for
from liveroom.media.roster import media_view
from liveroom.media.roster import roster as media_roster
from liveroom.models import LiveSession, Membership, Participation, Room, WaitingEntry
from liveroom.rooms import captions, chat, policy
from liveroom.rooms.meetings import commit_keeping_loaded, live_session
from liveroom.rooms.moderation import raised_hands, rights_of
from liveroom.rooms.policy import Rights
from liveroom.rooms.presence import (
    TOP_OF_LARGE_ROOM,
    PeopleShown,
    PersonShown,
    latest_stay,
    people_shown,
    presence_of,
)
from liveroom.rooms.waiting import latest_waiting_entry, waiting_people
from liveroom.settings import SiteSettings, get_settings
from liveroom.templating import drawings_of, wants_fragment


def no_content() -> Response:
    """HTMX leaves the page as it is on 204."""
    return Response(status=204)


LIVE_ROOMS_OFF = _l("Live rooms were turned off by the site's administrator.")
PRIVATE_ROOMS_OFF = _l("Private rooms were turned off by the site's administrator.")


# Built once: nearly every room request asks it, and building it cost as much as running it.
_ROOM_WITH_CHANNEL = (
    sa.select(Room)
    .where(Room.public_id == sa.bindparam("public_id"))
    .options(so.joinedload(Room.channel))
)
# The same, with the role the signed-in person's membership of the room's channel gives
# (NULL without one, and for a private room): the rules ask it on nearly every action.
_ROOM_WITH_CHANNEL_AND_ROLE = (
    sa.select(
        Room,
        sa.select(Membership.role)
        .where(
            Membership.user_id == sa.bindparam("user_id"),
            Membership.channel_id == Room.channel_id,
        )
        .scalar_subquery(),
    )
    .where(Room.public_id == sa.bindparam("public_id"))
    .options(so.joinedload(Room.channel))
)


def find_room(public_id: str) -> Room:
    """The room, whether or not live rooms are switched on; 404 if there is none.
    Its channel comes in the same query: every rule about a channel's room reads it,
    and so does the signed-in person's membership role in that channel, which the
    policy then uses without asking again (``note_membership_role``)."""
    me = signed_in_user() if has_request_context() else None
    if me is None or not me.is_authenticated:
        room = db.session.scalar(_ROOM_WITH_CHANNEL, {"public_id": public_id})
    else:
        row = db.session.execute(
            _ROOM_WITH_CHANNEL_AND_ROLE, {"public_id": public_id, "user_id": me.id}
        ).one_or_none()
        room = None if row is None else row[0]
        if room is not None and room.channel_id is not None:
            note_membership_role(me, room.channel_id, row[1])
    if room is None:
        abort(404)
    return room


def switched_off(room: Room) -> str | None:
    """Why the room cannot be used now (a sentence to show), or None when it can."""
    settings = get_settings()
    if policy.room_reachable(room, settings):
        return None
    return str(LIVE_ROOMS_OFF if not settings.live_room_enabled else PRIVATE_ROOMS_OFF)


def load_room(public_id: str) -> Room:
    """The room for an action in it: 404, saying why, while its kind is switched off."""
    room = find_room(public_id)
    reason = switched_off(room)
    if reason:
        abort(404, reason)
    return room


@lru_cache(maxsize=8)
def switched_on(settings: SiteSettings) -> SiteSettings:
    """The settings as if rooms were on: to ask who *could* join while they are off.
    Worked out once per settings (each attendance check asks)."""
    return dataclasses.replace(settings, live_room_enabled=True, private_rooms_enabled=True)


def attendance_visible(room: Room) -> bool:
    """Attendance records meetings that happened: switching live rooms off does not
    hide it from the people who saw it (the policy asks as if the rooms were on)."""
    return policy.may_view_attendance(signed_in_user(), room, switched_on(get_settings()))


# --- Waiting for the start, remembered across reloads ---------------------------------
# Before a meeting starts there is no session to hold a waiting place in the database,
# so the browser's signed session remembers it: room public id -> when last confirmed.

WAITING_KEY = "waiting_for_start"
# A waiting page confirms every 2 s; one that stopped asking this long ago was closed.
WAITING_FORGOTTEN_AFTER = 15 * 60
WAITING_CONFIRM_EVERY = 60
WAITING_ROOMS_KEPT = 20


def waiting_for_start(room: Room) -> bool:
    """This browser waits for the room's meeting to start (and its page still asks)."""
    since = browser_session.get(WAITING_KEY, {}).get(room.public_id)
    return since is not None and time.time() - since < WAITING_FORGOTTEN_AFTER


def remember_waiting(room: Room) -> None:
    """Note (in the cookie session, only when it changed) that this person waits here."""
    waiting = dict(browser_session.get(WAITING_KEY, {}))
    now = int(time.time())
    if now - waiting.get(room.public_id, 0) < WAITING_CONFIRM_EVERY:
        return
    waiting[room.public_id] = now
    newest = sorted(waiting.items(), key=lambda item: item[1])[-WAITING_ROOMS_KEPT:]
    browser_session[WAITING_KEY] = dict(newest)


def forget_waiting(room: Room) -> None:
    """They entered, left or stopped waiting: a reload no longer waits for the start."""
    waiting = browser_session.get(WAITING_KEY, {})
    if room.public_id in waiting:
        browser_session[WAITING_KEY] = {k: v for k, v in waiting.items() if k != room.public_id}


def require_my_rooms() -> None:
    """My Rooms exists only while private rooms are on, for roles that include them."""
    settings = get_settings()
    if not (settings.live_room_enabled and settings.private_rooms_enabled):
        abort(404)
    if not policy.may_see_my_rooms(signed_in_user(), settings):
        abort(403, _("Your role does not include private rooms. Ask your administrator."))


def require_join(room: Room, settings: SiteSettings | None = None) -> None:
    """403, saying why, unless the signed-in person may join the room's meetings."""
    if not policy.may_join(signed_in_user(), room, settings or get_settings()):
        abort(403, _("Only members of this channel can join its meetings."))


def require_member_while_off(room: Room) -> None:
    """While rooms are switched off, only those who could join hear that they are."""
    require_join(room, switched_on(get_settings()))


def button_context(room: Room, live: bool | None = None) -> dict:
    """What the Start/Join button shows (``rooms/_meeting_button.html``), read from the
    policy so the template never decides who may do what. ``live``: whether a meeting
    is live, when the caller has just looked."""
    settings = get_settings()
    return {
        "room": room,
        "live": live_session(room) is not None if live is None else live,
        "can_start": policy.may_start(signed_in_user(), room, settings),
        "can_join": policy.may_join(signed_in_user(), room, settings),
        "can_view_attendance": attendance_visible(room),
        "new_tab": settings.open_in_new_tab,
        "enabled": policy.room_reachable(room, settings),
    }


class RoomLink(NamedTuple):
    """What the Start/Join box shows of its room: the id in its addresses."""

    public_id: str


# Everything the Start/Join box (rooms/_meeting.html with _meeting_button.html) shows
# besides its room: the key of its drawing.
BUTTON_SHOWS = ("enabled", "live", "can_start", "can_join", "new_tab", "autojoin")


def drawn_button_box(state: str, context: dict) -> Markup | None:
    """The meeting box of a whole page that shows the Start/Join button, drawn once per
    process for each case (the room, whether it is live, what the viewer may do)
    rather than on every request: a channel's members all see one of a few. None for
    the other states, which the page draws itself, and for HTMX's requests (their box
    may carry an announcement for the page's live region)."""
    if state != "meeting_button" or request.htmx:
        return None
    shown = {name: bool(context.get(name, False)) for name in BUTTON_SHOWS}
    drawn = current_app.jinja_env.globals["drawn"]
    return drawn(
        "rooms/_meeting.html", state=state, room=RoomLink(context["room"].public_id), **shown
    )


class PersonRows:
    """Draws the items of the people list (``rooms/_person.html``) for one viewer.

    Every newcomer of a join storm sees the same few dozen people (the top of a
    large room) with the same menus, and drawing them was a third of Join's time. An
    item shows only what its key names (the person's values, ``presence.PersonShown``,
    and the viewer's rank), so it is drawn once per process (``templating.Drawings``)
    and reused while that stays the same; so is the whole list, under the exact
    sequence of its people (``all``). The live hub draws through it too (``context``:
    its ``url_for`` giving paths outside a request).
    """

    def __init__(
        self, room: Room, rights: Rights, captioner_id: int | None = None, **context: object
    ) -> None:
        app = current_app._get_current_object()
        self.drawings = drawings_of(app)
        self.reloading = app.jinja_env.auto_reload
        self.template = app.jinja_env.get_template("rooms/_person.html")
        self.room, self.rights, self.context = room, rights, context
        # Whom the captions are by: their item's menu offers "Stop captions", the
        # others "Make captioner" (so it is part of each item's key).
        self.captioner_id = captioner_id
        self.prefix = (
            self.drawings.root(),
            "rooms/_person.html",
            room.public_id,
            rights.rank,
            rights.present,
        )

    def _draw(self, person: PersonShown) -> str:
        return self.template.render(
            person=person,
            rights=self.rights,
            room=self.room,
            captioner_id=self.captioner_id,
            **self.context,
        )

    def __call__(self, person: PersonShown) -> Markup:
        if self.reloading:
            return Markup(self._draw(person))
        captioning = person.user_id == self.captioner_id
        key = (*self.prefix, person, captioning)
        return Markup(self.drawings.rooted(key, lambda: self._draw(person)))

    def all(self, people: list[PersonShown]) -> Markup:
        if self.reloading:
            return Markup("".join(self(person) for person in people))
        key = (*self.prefix, "all", tuple(people), self.captioner_id)
        return Markup(
            self.drawings.whole_list(key, lambda: "".join(self(person) for person in people))
        )


@dataclasses.dataclass(frozen=True)
class Standing:
    """What the signed-in person's current roles make them in a room, asked before
    Join commits: roles are remembered for one database transaction, so asking after
    the commit would read them again (a statement on every join of a storm)."""

    staff: bool
    sees_attendance: bool


def standing_in(room: Room) -> Standing:
    return Standing(
        policy.is_staff(signed_in_user(), room, get_settings()), attendance_visible(room)
    )


def panel_context(
    room: Room,
    session: LiveSession,
    me: Participation,
    started: int | None = None,
    since: int | None = None,
    standing: Standing | None = None,
) -> dict:
    """What the in-meeting panel shows to ``me``: people, hands, chat, and their rights.

    ``started``: this request started the meeting, and this is its last event. Up to
    it nobody had written in the meeting or waited to enter (what came after, the
    stream replays from it), so Start Meeting asks only for who is there.
    ``since``: the stream's cursor, when the request read it with the session
    (``meetings.session_with_cursor``); ``standing``: their roles, read before a commit.
    """
    just_started = started is not None
    if just_started:
        since = started
    elif since is None:
        # The cursor is read before the state, so the stream replays anything newer.
        since = events.latest_id(room.id)
    if just_started:
        # Its starter's stay was just written with their rank, and nobody waits yet:
        # the rights need nothing more from the database.
        rights = policy.rights_for(policy.room_rank(signed_in_user(), room, me, get_settings()), me)
    else:
        # Current roles; a page that only reads (GET) leaves the stored rank as it is.
        rank = policy.rank_from(standing.staff, me) if standing else None
        rights = rights_of(signed_in_user(), room, session, me, request.method != "GET", rank)
    instructor = rights.instructor
    shown = people_shown(session)
    hands = shown.hands_among
    return {
        "room": room,
        "session": session,
        "me": me,
        "instructor": instructor,
        "rights": rights,
        "since": since,
        # A few dozen people at most, however large the room (presence.people_shown).
        "people": shown.people,
        "person_row": PersonRows(room, rights, session.captioner_id),
        "people_count": shown.count,
        "hands": raised_hands(session, TOP_OF_LARGE_ROOM) if hands is None else hands,
        "hands_count": shown.hands_count,
        "waiting": waiting_people(session) if instructor and not just_started else [],
        "messages": []
        if just_started
        else chat.recent_messages(session, me.user_id, rights.reads_all_threads),
        "can_chat": policy.may_chat(me, session),
        **captions_context(session, rights, me.user_id, lines=not just_started),
        # Ending is for staff by their current roles (policy.may_end): for someone in
        # the meeting, that is what their rights already say.
        "can_end": rights.staff,
        "can_view_attendance": standing.sees_attendance if standing else attendance_visible(room),
        "share_url": url_for("rooms.room_page", public_id=room.public_id, _external=True)
        if room.is_private
        else None,
        **media_context(room, session, me, shown),
    }


def captions_context(
    session: LiveSession, rights: Rights, viewer_id: int, lines: bool = True
) -> dict:
    """What the captions under the stage show to one viewer (``rooms/_captions.html``):
    who writes them, whether it is this viewer (their composer), whether they are
    offered "Stop captions", and the last lines (``lines``). Nothing is read while
    nobody captions (the area is hidden then): a join costs no statement for it."""
    stay = captions.captioner_stay(session)
    if stay is None:
        return {"captioner": None, "captioning": False, "offers_stop_captions": False}
    return {
        "captioner": stay.user,
        "captioning": stay.user_id == viewer_id,
        "offers_stop_captions": rights.may_stop_captions(policy.shown_rank(stay), stay.user_id),
        **({"captions": captions.recent_captions(session.id)} if lines else {}),
    }


def media_context(room: Room, session: LiveSession, me: Participation, shown: PeopleShown) -> dict:
    """What the stage and its controls need: the backend's configuration for this
    person's page (``data-media``), the roster, and the stage's switches."""
    config = backend_for(session).authorise(session, me)
    config.update(
        me=me.user_id,
        session=session.id,
        signal_url=url_for("media.signal", public_id=room.public_id),
        ice_url=url_for("media.ice", public_id=room.public_id),
        state_url=url_for("media.set_state", public_id=room.public_id),
    )
    return {
        "media_config": config,
        "media_roster": media_roster(session, shown.people, shown.count),
        "media": media_view(session),
    }


def render_state(room: Room, state: str, **context: object) -> str:
    """One meeting state: the fragment for HTMX, inside the whole room page otherwise."""
    if wants_fragment():
        return render_template(f"rooms/_{state}.html", room=room, **context)
    return render_template("rooms/room.html", room=room, state=state, **context)


def render_panel(
    room: Room,
    session: LiveSession,
    me: Participation,
    started: int | None = None,
    since: int | None = None,
    standing: Standing | None = None,
    commit_after: bool = False,
) -> str:
    """The person is in the meeting (the rest: see ``panel_context``). ``commit_after``:
    commit what the request wrote once the panel's state is read, before drawing it."""
    context = panel_context(room, session, me, started, since, standing)
    if commit_after:
        commit_keeping_loaded()
    context.pop("room")
    return render_state(room, "panel", **context)


def render_ended(room: Room, session: LiveSession) -> str:
    """The meeting ended: "This meeting has ended", and the button for the next one."""
    context = button_context(room)
    context.pop("room")
    return render_state(room, "ended", ended_session=session, **context)


def render_lobby(room: Room, session: LiveSession) -> str:
    """The waiting room, listening for the instructors' answer."""
    # A decision made after this cursor is replayed to the stream; one made before the
    # stream connects makes it answer "refresh" at once: either way the page moves on.
    return render_state(room, "lobby", session=session, since=events.latest_id(room.id))


def render_turned_off(room: Room, reason: str, ended_session: LiveSession | None = None) -> str:
    """The meeting box while live rooms are off: it says so, and keeps asking (GET
    button?off=1) so that it turns back into the button when they are on again."""
    return render_state(
        room,
        "turned_off",
        off_reason=reason,
        ended_session=ended_session,
        can_view_attendance=attendance_visible(room),
    )


def admission_unused(session: LiveSession, entry: WaitingEntry | None) -> bool:
    """An instructor let them in while their page was away (a reload): enter on load."""
    if entry is None or entry.decision != "admitted":
        return False
    stay = latest_stay(session, entry.user_id)
    return stay is None or (entry.decided_at is not None and stay.joined_at < entry.decided_at)


def meeting_state(room: Room) -> tuple[str, dict]:
    """What a page opening this room's meeting box shows, so a person's place survives
    a reload: in the room, in the waiting room, or waiting for the start."""
    if switched_off(room):
        return "meeting_button", button_context(room)  # the page shows no meeting box
    return meeting_state_with(room, live_session(room))


def meeting_state_with(room: Room, session: LiveSession | None) -> tuple[str, dict]:
    """``meeting_state`` for a page that read the room's live meeting (``session``,
    None while there is none) in its own statement, as the channel page reads it with
    the channel: one statement fewer."""
    if switched_off(room):
        return "meeting_button", button_context(room, live=session is not None)
    if session is None:
        if waiting_for_start(room) and policy.may_join(signed_in_user(), room, get_settings()):
            return "waiting", {"room": room}
        return "meeting_button", button_context(room, live=False)
    since = events.latest_id(room.id)
    me = presence_of(session, signed_in_user())
    if me is not None:
        return "panel", panel_context(room, session, me, since=since)
    entry = latest_waiting_entry(session, signed_in_user().id)
    if entry is not None and entry.decision is None:
        return "lobby", {"room": room, "session": session, "since": since}
    context = button_context(room, live=True)
    # Waiting for the start, and it started (or they were admitted) during the reload.
    context["autojoin"] = context["can_join"] and (
        waiting_for_start(room) or admission_unused(session, entry)
    )
    return "meeting_button", context
