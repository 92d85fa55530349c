"""Turn one room event into what each audience's browser swaps in.

An event is rendered once per audience (staff instructors, promoted instructors,
participants, one person), not once per connected browser: a room of 1,000 costs
three renders per chat message. The HTML is made of htmx out-of-band fragments,
swapped by the SSE listener in the room panel; "refresh" asks a browser to fetch its
panel again (role changed, removed, admitted, meeting ended).

The people list, the count and the raised hands are not rendered per event: a burst
of 1,000 arrivals would cost every listener 1,000 messages. People events
(``PEOPLE_KINDS``) carry only their personal parts here (a refresh, a closed stream,
one's own hand button); the hub (``liveroom/live/people.py``) renders the lists from
the database's current state at most once per short interval (``people_parts``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import escape

from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.media.roster import media_view, roster
from liveroom.models import Caption, ChatMessage, Event, LiveSession, Participation, Room, User
from liveroom.rooms import policy
from liveroom.rooms.captions import captioner_stay, recent_captions
from liveroom.rooms.moderation import raised_hands
from liveroom.rooms.pages import PersonRows
from liveroom.rooms.policy import Rank, Rights
from liveroom.rooms.presence import (
    TOP_OF_LARGE_ROOM,
    PeopleShown,
    PersonShown,
    latest_stay,
    people_shown,
)
from liveroom.rooms.waiting import waiting_people
from liveroom.settings import get_settings

# A listener's role: what it may hear. INSTRUCTOR is a staff instructor (every private
# thread, the room's switches), PROMOTED an instructor by "Set as moderator" (moderates
# participants, reads only their own private thread).
INSTRUCTOR = "instructor"
PROMOTED = "promoted"
PARTICIPANT = "participant"
WAITING = "waiting"
# Joins and leaves are announced to screen readers only in small rooms.
ANNOUNCE_UP_TO = 30

_ROLE_OF_RANK = {Rank.STAFF: INSTRUCTOR, Rank.PROMOTED: PROMOTED, Rank.PARTICIPANT: PARTICIPANT}


def listener_role(user: User, room: Room, me: Participation) -> str:
    """How a present person listens: by their rank now (current channel and site
    roles), not by the role they entered with."""
    return _ROLE_OF_RANK[policy.room_rank(user, room, me, get_settings())]


@dataclass(eq=False)
class Listener:
    """One open stream: who is listening, in which role, to which session."""

    room_id: int
    session_id: int
    user_id: int
    role: str
    participation_id: int | None
    # The browser's login session: the stream ends when it does (hub.keep_present).
    login_id: int | None = None
    queue: object = field(default=None, repr=False)
    last_id: int = 0
    # The people-list parts this page holds (name -> html), as the hub last sent
    # them: a flush sends each listener only the parts that differ (live/people.py).
    people: dict[str, str] | None = field(default=None, repr=False)
    # The language its page speaks (its request's, as the stream opened): the hub
    # renders each audience's fragments once per language present.
    language: str = "en"


@dataclass(eq=False)
class Watcher:
    """One page that shows rooms without being in their meetings (a channel page, a
    room's link, My Rooms, a pupil waiting for the start): it only hears that a
    meeting started or ended, and asks for its own view of that."""

    room_ids: frozenset[int]
    user_id: int
    login_id: int | None = None
    queue: object = field(default=None, repr=False)
    closed: bool = False
    language: str = "en"


def request_language() -> str:
    """The language of the request opening a stream (liveroom/i18n.py chose it)."""
    return str(get_locale() or "en")


def by_language(streams: list) -> dict[str, list]:
    """Streams grouped by the language they speak, each group rendered for once."""
    groups: dict[str, list] = {}
    for stream in streams:
        groups.setdefault(stream.language, []).append(stream)
    return groups


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render for a whole audience in ``language``: its words, and the drawings
    kept for it (``templating.Drawings`` keys them by the locale forced here)."""
    with force_locale(language):
        yield


def status_message(event: Event, language: str = "en") -> bytes:
    """What a watching page hears: ``meeting``, with the room's "Live" badge as an
    out-of-band fragment (the same for everyone, so rendered once). Pages that show
    more than a badge ask for their own state when they hear it. No id: a page that
    reconnects asks for its state anyway."""
    html = ""
    if event.room_id is not None:
        room = db.session.get(Room, event.room_id)
        live = event.kind == Kind.SESSION_STARTED
        with speaking(language):
            html = render_template("rooms/_live_badge.html", room=room, live=live, oob=True)
    return sse_message(None, "meeting", html)


Target = Callable[[Listener], bool]


def everyone(listener: Listener) -> bool:
    return True


def staff(listener: Listener) -> bool:
    return listener.role == INSTRUCTOR


def promoted(listener: Listener) -> bool:
    return listener.role == PROMOTED


def instructors(listener: Listener) -> bool:
    """Staff and promoted instructors: whoever moderates (the waiting room, say)."""
    return listener.role in (INSTRUCTOR, PROMOTED)


def participants(listener: Listener) -> bool:
    return listener.role == PARTICIPANT


def present(listener: Listener) -> bool:
    return listener.role in (INSTRUCTOR, PROMOTED, PARTICIPANT)


def user(user_id: int) -> Target:
    return lambda listener: listener.user_id == user_id


def stay(participation_id: int) -> Target:
    return lambda listener: listener.participation_id == participation_id


def waiting_user(user_id: int) -> Target:
    return lambda listener: listener.role == WAITING and listener.user_id == user_id


def participant_user(user_id: int) -> Target:
    return lambda listener: listener.role == PARTICIPANT and listener.user_id == user_id


def role_user(role: str, user_id: int) -> Target:
    return lambda listener: listener.role == role and listener.user_id == user_id


# The audiences of people in the room, each with the rights its fragments show.
AUDIENCES: list[tuple[Target, Rank]] = [
    (staff, Rank.STAFF),
    (promoted, Rank.PROMOTED),
    (participants, Rank.PARTICIPANT),
]
# The same audiences by a listener's role (a waiting listener sees no people list).
RANK_OF_ROLE = {INSTRUCTOR: Rank.STAFF, PROMOTED: Rank.PROMOTED, PARTICIPANT: Rank.PARTICIPANT}

# Events that change who is listed, their badges or hands, or the counts: the hub
# marks the session's lists changed and sends them coalesced (live/people.py).
PEOPLE_KINDS = frozenset(
    {
        Kind.PARTICIPANT_JOINED,
        Kind.PARTICIPANT_LEFT,
        Kind.PARTICIPANT_REMOVED,
        Kind.ROLE_CHANGED,
        Kind.PERSON_CHANGED,
        Kind.HAND_CHANGED,
        Kind.HANDS_LOWERED,
        Kind.MEDIA_CHANGED,
        # The captioner's item says so, and the menus offer "Stop captions" on it.
        Kind.CAPTIONS_CHANGED,
    }
)
# What screen readers hear about arrivals and departures (small rooms only).
ANNOUNCED_KINDS = {
    Kind.PARTICIPANT_JOINED: _l("%(name)s joined."),
    Kind.PARTICIPANT_LEFT: _l("%(name)s left."),
    Kind.PARTICIPANT_REMOVED: _l("%(name)s was removed from the room."),
}


@dataclass
class Plan:
    """What to send for one event: (who, SSE message bytes) pairs."""

    event_id: int
    session_id: int | None = None
    sends: list[tuple[Target, bytes]] = field(default_factory=list)
    # Streams to end once this event is sent: their role or place is gone, so they must
    # reconnect (and be checked again) rather than keep listening as what they were.
    closes: list[Target] = field(default_factory=list)

    def add(self, target: Target, html: str) -> None:
        if html:
            self.sends.append((target, sse_message(self.event_id, "room", html)))

    def refresh(self, target: Target) -> None:
        self.sends.append((target, sse_message(self.event_id, "refresh", "refresh")))

    def for_listener(self, listener: Listener) -> list[bytes]:
        if listener.session_id != self.session_id:
            return []
        return [message for target, message in self.sends if target(listener)]

    def closes_listener(self, listener: Listener) -> bool:
        return listener.session_id == self.session_id and any(t(listener) for t in self.closes)


@contextlib.contextmanager
def rendering(app: Flask) -> Iterator[None]:
    """What rendering outside any request needs: the application context, and a URL
    adapter so templates can build the app's paths (there is no request to bind one
    to: the hub renders once for a whole audience)."""
    with app.app_context() as ctx:
        ctx.url_adapter = app.url_map.bind(
            app.config.get("SERVER_NAME") or "localhost",
            script_name=app.config.get("APPLICATION_ROOT") or "/",
        )
        yield


def render_template(name: str, **context: object) -> str:
    """Render a fragment for a whole audience: straight from the Jinja environment,
    without the page context processors (there is no signed-in person here)."""
    context.setdefault("url_for", _path_for)
    return current_app.jinja_env.get_template(name).render(context)


def _path_for(endpoint: str, **values: object) -> str:
    """``url_for`` giving paths, as in a request: outside one Flask makes URLs whole
    with the adapter's placeholder host ("http://localhost/..."), which htmx refuses
    to request from the real page's origin."""
    values.setdefault("_external", False)
    return url_for(endpoint, **values)


STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    # nginx must pass each event on at once instead of buffering the response.
    "X-Accel-Buffering": "no",
}


def sse_message(event_id: int | None, name: str, data: str) -> bytes:
    """One Server-Sent Event; without an id the browser's resume point stays put."""
    # One "data:" line per line of ``data``; SSE ends a line at CR, LF or CRLF only.
    text = data.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    lines = "data: " + text.replace("\n", "\ndata: ") + "\n"
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}event: {name}\n{lines}\n".encode()


def oob(tag: str, element_id: str, swap: str, inner: str = "") -> str:
    return f'<{tag} id="{element_id}" hx-swap-oob="{swap}">{inner}</{tag}>'


def _announce(text: str, category: str | None = None, about: int | None = None) -> str:
    """A sentence (escaped HTML, in the audience's language) for the room's one live
    region: dropped into the page's hidden ``#announce-inbox``, from which
    static/js/announce.js queues, coalesces and speaks it, unless the person turned
    ``category`` off (``liveroom/preferences.py``; None: always spoken) or it is about
    themself (``about``, a user id: nobody hears "Sam Lee joined." of their own entry)."""
    kind = f' data-category="{category}"' if category else ""
    if about is not None:
        kind += f' data-about="{int(about)}"'
    return f'<div hx-swap-oob="beforeend:#announce-inbox"><span{kind}>{text}</span></div>'


def _hands(
    session: LiveSession, rights: Rights, hands: list[Participation], hands_count: int
) -> str:
    inner = render_template(
        "rooms/_hands_list.html",
        hands=hands,
        hands_count=hands_count,
        rights=rights,
        room=session.room,
    )
    return oob("div", "hands-list", "innerHTML", inner)


@dataclass
class PeopleState:
    """What the people lists show now, read once per flush for every audience."""

    shown: PeopleShown
    hands: list[Participation] | list[PersonShown]
    # The media roster's element, the same for every audience: rendered once.
    roster_html: str | None = None

    def roster(self, session: LiveSession) -> str:
        if self.roster_html is None:
            self.roster_html = media_roster_element(
                roster(session, self.shown.people, self.shown.count), oob=True
            )
        return self.roster_html


def media_roster_element(data: dict, oob: bool = False) -> str:
    """The hidden element the media script reads (static/js/media/room-media.js)."""
    return render_template("rooms/_media_roster.html", roster=data, oob=oob)


def people_state(session: LiveSession) -> PeopleState:
    """One query (two while some raised hands are not among the people shown), and a
    few dozen people at most however large the room."""
    shown = people_shown(session)
    hands = shown.hands_among
    return PeopleState(shown, raised_hands(session, TOP_OF_LARGE_ROOM) if hands is None else hands)


def people_parts(session: LiveSession, state: PeopleState, rank: Rank) -> dict[str, str]:
    """The people list as one audience sees it, in parts the hub sends only when they
    changed: the counts (and the "Showing …" line), the list, the raised hands. Each is
    an out-of-band fragment replacing its element's content: whatever the page held
    before, and however it missed what came between, it is right afterwards."""
    rights = Rights(rank=rank)
    shown = state.shown
    context = {"people": shown.people, "people_count": shown.count}
    count = render_template("rooms/_people_count.html", **context)
    # Drawn once per process for what each item shows, as the panel's (pages.PersonRows).
    row = PersonRows(session.room, rights, session.captioner_id, url_for=_path_for)
    people = row.all(shown.people)
    return {
        "count": oob("span", "people-count", "innerHTML", count)
        + oob("span", "people-everyone-count", "innerHTML", count)
        + oob(
            "p", "people-shown", "innerHTML", render_template("rooms/_people_shown.html", **context)
        ),
        "list": oob("ul", "people-list", "innerHTML", people),
        "hands": _hands(session, rights, state.hands, shown.hands_count),
        "media": state.roster(session),
    }


def people_announcement(changes: list[tuple[str, int]], count: int) -> str:
    """One sentence for screen readers per flush, in rooms of up to ``ANNOUNCE_UP_TO``:
    "Ana Silva joined." for one arrival, "3 people joined, 1 left." for several.
    ``changes``: (event kind, user id) of the arrivals and departures since the last."""
    if not changes or count > ANNOUNCE_UP_TO:
        return ""
    if len(changes) == 1:
        kind, user_id = changes[0]
        person = db.session.get(User, user_id)
        name = person.display_name if person else _("Someone")
        return _announce(_escape(ANNOUNCED_KINDS[kind] % {"name": name}), "people", user_id)
    joined = sum(kind == Kind.PARTICIPANT_JOINED for kind, _kind in changes)
    left = sum(kind == Kind.PARTICIPANT_LEFT for kind, _kind in changes)
    removed = len(changes) - joined - left
    # The first phrase names people ("3 people joined"), the ones after it count on
    # it ("1 left"): a sentence per language, each count with its plural forms.
    phrases = []
    if joined:
        phrases.append(ngettext("%(num)d person joined", "%(num)d people joined", joined))
    if left:
        phrases.append(
            ngettext("%(num)d left", "%(num)d left", left)
            if phrases
            else ngettext("%(num)d person left", "%(num)d people left", left)
        )
    if removed:
        phrases.append(
            ngettext("%(num)d was removed", "%(num)d were removed", removed)
            if phrases
            else ngettext("%(num)d person was removed", "%(num)d people were removed", removed)
        )
    sentence = phrases[0]
    for phrase in phrases[1:]:
        sentence = _("%(before)s, %(after)s", before=sentence, after=phrase)
    return _announce(_escape(_("%(changes)s.", changes=sentence)), "people")


def _people_changed(plan: Plan, event: Event) -> None:
    """Join, leave, removal, role or hand change: only the personal parts, at once.
    The lists, counts and hands follow coalesced (``people_parts``)."""
    pid = event.data.get("participation_id")
    # A role change, a removal, or roles that no longer let them in at all: their
    # page re-reads what they are now.
    no_access = event.kind == Kind.PARTICIPANT_LEFT and event.data.get("reason") == "no_access"
    if event.kind in (Kind.PARTICIPANT_REMOVED, Kind.ROLE_CHANGED) or no_access:
        plan.refresh(user(event.data["user_id"]))
    if event.kind in (Kind.PARTICIPANT_REMOVED, Kind.PARTICIPANT_LEFT, Kind.ROLE_CHANGED) and pid:
        plan.closes.append(stay(pid))
    if event.kind == Kind.HAND_CHANGED and pid:
        p = db.session.get(Participation, pid)
        if p is not None and p.left_at is None:
            plan.add(participant_user(p.user_id), _my_hand(p))


def _my_hand(p: Participation) -> str:
    return render_template("rooms/_my_hand.html", me=p, room=p.session.room, oob=True)


def _escape(text: str) -> str:
    return str(escape(text))


def _chat_audiences(data: dict) -> list[tuple[Target, Rank]]:
    """Who sees a message, and with which rights: everyone for a public one. A private
    one (``policy.may_read_message``) goes to the staff, who read every thread, and to
    the thread's own person, whether they listen as a participant or, promoted, as a
    moderator; never to other moderators."""
    thread = data.get("thread_user_id")
    if thread is None:
        return AUDIENCES
    return [
        (staff, Rank.STAFF),
        (role_user(PROMOTED, thread), Rank.PROMOTED),
        (role_user(PARTICIPANT, thread), Rank.PARTICIPANT),
    ]


def _author_rank(event: Event, session: LiveSession, message: ChatMessage) -> Rank:
    """The author's rank when they wrote (events from before it was recorded: now)."""
    recorded = event.data.get("author_rank", "")
    if recorded.upper() in Rank.__members__:
        return Rank[recorded.upper()]
    author = latest_stay(session, message.author_id)
    return policy.shown_rank(author) if author else Rank.PARTICIPANT


def _chat_posted(plan: Plan, event: Event, session: LiveSession) -> None:
    # One query for the message and the names it shows: this runs for every message.
    message = db.session.scalar(
        sa.select(ChatMessage)
        .where(ChatMessage.id == event.data["message_id"])
        .options(so.joinedload(ChatMessage.author), so.joinedload(ChatMessage.thread_user))
    )
    if message is None or message.deleted_at is not None:
        return
    author_rank = _author_rank(event, session, message)
    for target, rank in _chat_audiences(event.data):
        rights = Rights(rank=rank)
        item = render_template(
            "rooms/_chat_message.html",
            message=message,
            viewer_staff=rights.staff,
            can_delete=rights.may_delete(author_rank),
            room=session.room,
        )
        plan.add(target, oob("ol", "chat-log", "beforeend", item))


def _chat_deleted(plan: Plan, event: Event) -> None:
    html = oob("li", f"msg-{event.data['message_id']}", "delete")
    for target, _rank in _chat_audiences(event.data):
        plan.add(target, html)


def _session_controls(plan: Plan, event: Event, session: LiveSession) -> None:
    if event.kind == Kind.CHAT_TOGGLED:
        plan.add(
            staff,
            render_template(
                "rooms/_chat_toggle.html", session=session, room=session.room, oob=True
            ),
        )
        plan.add(
            participants,
            render_template(
                "rooms/_chat_composer.html",
                session=session,
                room=session.room,
                can_chat=session.chat_enabled,
                viewer_staff=False,
                oob=True,
            ),
        )
        state = "on" if session.chat_enabled else "off"
        plan.add(
            present,
            _announce(
                _("Participant chat is on.") if state == "on" else _("Participant chat is off.")
            ),
        )
    elif event.kind == Kind.ROOM_LOCKED:
        plan.add(
            staff,
            render_template(
                "rooms/_lock_toggle.html", session=session, room=session.room, oob=True
            ),
        )
        plan.add(
            present,
            render_template("rooms/_lock_status.html", session=session, oob=True)
            + _announce(_("The room is locked.") if session.locked else _("The room is unlocked.")),
        )
    elif event.kind == Kind.HANDS_LOWERED:
        # The lists follow coalesced; participants' own buttons go down at once.
        plan.add(
            participants,
            render_template("rooms/_my_hand.html", me=None, room=session.room, oob=True)
            + _announce(_("All hands were lowered.")),
        )


def _waiting_changed(plan: Plan, event: Event, session: LiveSession) -> None:
    waiting = waiting_people(session)
    settings = get_settings()
    staff_waiting = frozenset(
        e.user_id for e in waiting if policy.is_staff(e.user, session.room, settings)
    )
    announce = ""
    if waiting:
        announce = _announce(
            ngettext(
                "%(num)d person waiting to be let in.",
                "%(num)d people waiting to be let in.",
                len(waiting),
            )
        )
    for target, rank in AUDIENCES[:2]:  # whoever moderates: staff and promoted
        rights = Rights(rank=rank, staff_waiting=staff_waiting)
        inner = render_template(
            "rooms/_waiting_list.html", waiting=waiting, rights=rights, room=session.room
        )
        plan.add(
            target,
            oob("div", "waiting-list", "innerHTML", inner)
            + oob("span", "waiting-count", "innerHTML", str(len(waiting)))
            + announce,
        )
    if event.data.get("decision"):
        plan.refresh(user(event.data["user_id"]))
        plan.closes.append(waiting_user(event.data["user_id"]))


def plan_for(event: Event, language: str = "en") -> Plan:
    """Render ``event`` for every audience that should see it, in ``language``."""
    with speaking(language):
        return _plan_for(event)


def _plan_for(event: Event) -> Plan:
    plan = Plan(event.id, event.session_id)
    if event.session_id is None:
        return plan
    kind = event.kind
    # Arrivals, departures, signals and deletions need nothing of the meeting itself:
    # a join storm's events are read without it (a query per event in every worker).
    if kind == Kind.SESSION_ENDED:
        plan.refresh(everyone)
        plan.closes.append(everyone)
    elif kind in PEOPLE_KINDS and kind not in NEEDS_THE_MEETING:
        _people_changed(plan, event)
    elif kind == Kind.CHAT_DELETED:
        _chat_deleted(plan, event)
    elif kind == Kind.SIGNAL:
        _signal(plan, event)
    elif kind in NEEDS_THE_MEETING:
        session = db.session.get(LiveSession, event.session_id)
        NEEDS_THE_MEETING[kind](plan, event, session)
    return plan


def _media_changed(plan: Plan, event: Event, session: LiveSession) -> None:
    """Someone's media: the roster and the lists follow, coalesced (live/people.py).
    The stage's own switches go to the instructors who hold them: the mode's select
    to staff, the "mute all" buttons (with "Allow everyone to unmute" while a strong
    mute holds) to everyone who moderates."""
    action = event.data.get("action")
    if action == "moved_to_mesh":
        # The media server stopped answering: every page reads its panel again,
        # which now connects peer to peer (liveroom/media/sfu.py ``fall_back``).
        plan.refresh(everyone)
        return
    if action in OWN_OFF and event.data.get("by") is None and event.data.get("user_id"):
        # The person turned it off themself, on one of their pages: their other pages
        # (another tab) hear it, and then say so, not that an instructor did.
        kind = OWN_OFF[action]
        plan.sends.append((user(event.data["user_id"]), sse_message(None, "media-self", kind)))
        return
    context = {"room": session.room, "media": media_view(session), "oob": True}
    if action == "stage_mode":
        plan.add(staff, render_template("rooms/_stage_mode.html", **context))
    if action in ("mute_all_strong", "allow_all"):
        plan.add(instructors, render_template("rooms/_media_controls.html", **context))


# The person's own "off" of each kind (liveroom/media/actions.py ``set_own``).
OWN_OFF = {"mic_off": "mic", "camera_off": "camera", "screen_off": "screen"}


def _signal(plan: Plan, event: Event) -> None:
    """To its one recipient, as it came (JSON for the media script), with no id: the
    page's resume point does not move, and a signal is never replayed."""
    data = dict(event.data)
    to = data.pop("to", None)
    if isinstance(to, int):
        message = sse_message(None, "signal", json.dumps(data, separators=(",", ":")))
        plan.sends.append((user(to), message))


def _captions_changed(plan: Plan, event: Event, session: LiveSession) -> None:
    """The captioner was named or stopped: everyone's captions head ("Captions by …",
    with "Stop captions" for whoever may stop them), the captioner's composer (an
    empty box for everyone else) and a sentence for screen readers, from the meeting
    as it is now. The people lists (the captioner's badge, the menus) follow
    coalesced."""
    stay = captioner_stay(session)
    captioner_id = stay.user_id if stay is not None else None
    context = {"room": session.room, "captioner": stay.user if stay else None, "oob": True}
    erased = event.data.get("action") == "erased"
    if erased:
        said = ""  # nothing changed that anyone hears
    elif stay is not None:
        name = _escape(stay.user.display_name)
        said = _announce(_("Live captions are on, by %(name)s.", name=name))
    else:
        said = _announce(_("Live captions have stopped."))
    others_composer = render_template("rooms/_caption_composer.html", room=session.room, oob=True)
    for target, rank in AUDIENCES:
        offers_stop = stay is not None and Rights(rank=rank).may_stop_captions(
            policy.shown_rank(stay)
        )
        head = render_template(
            "rooms/_captions_head.html", offers_stop_captions=offers_stop, **context
        )
        plan.add(_but_not(target, captioner_id), head + others_composer + said)
    if stay is not None:
        mine = render_template(
            "rooms/_captions_head.html", offers_stop_captions=True, captioning=True, **context
        ) + render_template(
            "rooms/_caption_composer.html", room=session.room, captioning=True, oob=True
        )
        plan.add(
            _present_user(captioner_id),
            mine + _announce(_("You are writing the live captions: type them under the stage.")),
        )
    if erased:
        # Someone's captions were erased (liveroom/personal_data.py): the lines again.
        lines = "".join(
            render_template("rooms/_caption_line.html", caption=caption)
            for caption in recent_captions(session.id)
        )
        plan.add(present, oob("ol", "captions-log", "innerHTML", lines))


def _caption_posted(plan: Plan, event: Event, session: LiveSession) -> None:
    """A line of captions, the same for everyone in the meeting."""
    caption = db.session.get(Caption, event.data["caption_id"])
    if caption is not None:
        line = render_template("rooms/_caption_line.html", caption=caption)
        plan.add(present, oob("ol", "captions-log", "beforeend", line))


def _but_not(target: Target, user_id: int | None) -> Target:
    return lambda listener: target(listener) and listener.user_id != user_id


def _present_user(user_id: int) -> Target:
    return lambda listener: present(listener) and listener.user_id == user_id


# What each other kind draws, with the meeting it happened in.
NEEDS_THE_MEETING = {
    Kind.MEDIA_CHANGED: _media_changed,
    Kind.CHAT_POSTED: _chat_posted,
    Kind.CHAT_TOGGLED: _session_controls,
    Kind.ROOM_LOCKED: _session_controls,
    Kind.HANDS_LOWERED: _session_controls,
    Kind.WAITING_CHANGED: _waiting_changed,
    Kind.CAPTIONS_CHANGED: _captions_changed,
    Kind.CAPTION_POSTED: _caption_posted,
}
