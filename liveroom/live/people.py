"""The people lists, coalesced: one update per audience per short interval.

A join, a leave, a hand or a role change used to send every listener a fragment of
its own: 1,000 arrivals in ten seconds cost a million messages, and each arrival's
panel rendered the whole list. Now each such event only marks its session's lists
changed (``changed``); the hub's watcher flushes a changed session at most once per
``FLUSH_EVERY`` (``LARGE_FLUSH_EVERY`` in a large room; ``flush_due``): it reads the
current state once (so the lists are right whatever order events came in), renders
it once per audience present in this process, and sends each listener the parts
that differ from what its page holds,
without an event id (the browser's resume point neither moves back nor skips).

A (re)connecting listener gets its audience's current lists right after its replay
(``current``), from the last flush's render when that is fresh enough, so a page that
missed flushes while away is right again at once.

State lives in this process only and is guarded by the hub's lock, never held across
a query or a render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.live.render import (
    ANNOUNCED_KINDS,
    RANK_OF_ROLE,
    Listener,
    people_announcement,
    people_parts,
    people_state,
    speaking,
    sse_message,
)
from liveroom.models import Event, LiveSession
from liveroom.rooms.policy import Rank

if TYPE_CHECKING:
    from liveroom.live.hub import Hub

# A session's lists go out at most this often. The first change after a quiet spell
# goes out at once; the ones after it wait for the interval, together.
FLUSH_EVERY = 0.3
# ... and this often in a large room (over presence.LARGE_ROOM present, its lists
# showing the top): each flush is a message to every listener, so a room of 1,000
# arriving at once would otherwise get 3,000 a second, for a count that changes.
LARGE_FLUSH_EVERY = 1.0


@dataclass
class Rendered:
    """One audience's lists as a flush (or a connecting listener) rendered them."""

    generation: int
    parts: dict[str, str]
    large: bool


@dataclass
class SessionLists:
    """One session's coalescing state in this process."""

    room_id: int
    # Bumped by every people event seen; ``flushed`` is the generation the last flush
    # rendered. A flush is due (``due`` set) exactly while generation > flushed.
    generation: int = 0
    flushed: int = 0
    due: float | None = None
    last_flush: float = float("-inf")
    # Arrivals and departures since the last flush: (kind, user id), for the announcer.
    changes: list[tuple[str, int]] = field(default_factory=list)
    # By audience and language: the lists are rendered once for each present.
    rendered: dict[tuple[Rank, str], Rendered] = field(default_factory=dict)

    def interval(self) -> float:
        """How long after a flush the next may go: longer once the room is large (as
        its last rendering found it)."""
        large = any(rendered.large for rendered in self.rendered.values())
        return LARGE_FLUSH_EVERY if large else FLUSH_EVERY


class PeopleLists:
    """The hub's coalescer (one per process, see the module's docstring)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sessions: dict[int, SessionLists] = {}

    def changed(self, event: Event, now: float) -> None:
        """A people event was read (the caller holds the hub's lock): mark its
        session's lists changed, and the flush due now or one interval after the last."""
        if event.kind == Kind.SESSION_ENDED:
            self.sessions.pop(event.session_id, None)
            return
        lists = self.sessions.get(event.session_id)
        if lists is None:
            lists = self.sessions[event.session_id] = SessionLists(event.room_id)
        lists.generation += 1
        if event.kind in ANNOUNCED_KINDS:
            lists.changes.append((event.kind, event.data.get("user_id")))
        if lists.due is None:
            lists.due = max(now, lists.last_flush + lists.interval())

    def due_in(self, now: float) -> float | None:
        """Seconds until the next flush is due (0 if overdue), None when none is."""
        with self.hub.lock:
            dues = [lists.due for lists in self.sessions.values() if lists.due is not None]
        return max(0.0, min(dues) - now) if dues else None

    def flush_due(self, now: float) -> list[tuple[Listener, bytes]]:
        """Render every session's lists that are due (the caller has an app context)
        and return what to put on which listener's queue (the hub delivers)."""
        with self.hub.lock:
            work = []
            for session_id, lists in self.sessions.items():
                if lists.due is None or lists.due > now:
                    continue
                lists.due, lists.last_flush, lists.flushed = None, now, lists.generation
                changes, lists.changes = lists.changes, []
                ranks = {
                    (RANK_OF_ROLE[x.role], x.language)
                    for x in self._listeners(session_id, lists)
                    if x.role in RANK_OF_ROLE
                }
                work.append((session_id, lists, lists.generation, changes, ranks))
        sends: list[tuple[Listener, bytes]] = []
        for session_id, lists, generation, changes, ranks in work:
            if not ranks:
                continue  # nobody here listens: a later listener renders for itself
            try:
                sends += self._flush(session_id, lists, generation, changes, ranks)
            except Exception:
                with self.hub.lock:  # try again next interval
                    lists.flushed = min(lists.flushed, generation - 1)
                    lists.due = lists.due or now + lists.interval()
                raise
        return sends

    def _listeners(self, session_id: int, lists: SessionLists) -> list[Listener]:
        """This process's listeners of the session (the caller holds the lock)."""
        room = self.hub.rooms.get(lists.room_id, ())
        return [x for x in room if x.session_id == session_id]

    def _flush(
        self,
        session_id: int,
        lists: SessionLists,
        generation: int,
        changes: list[tuple[str, int]],
        ranks: set[tuple[Rank, str]],
    ) -> list[tuple[Listener, bytes]]:
        """Read once, rendered once per (audience, language) present."""
        session = db.session.get(LiveSession, session_id)
        if session is None or session.ended_at is not None:
            return []
        state = people_state(session)
        announced: dict[str, str] = {}
        sends = []
        for rank, language in sorted(ranks, key=lambda pair: (pair[0].value, pair[1])):
            with speaking(language):
                if language not in announced:
                    announced[language] = people_announcement(changes, state.shown.count)
                parts = people_parts(session, state, rank)
            rendered = Rendered(generation, parts, state.shown.large)
            sends += self._sends(session_id, lists, (rank, language), rendered, announced[language])
        return sends

    def _sends(
        self,
        session_id: int,
        lists: SessionLists,
        audience: tuple[Rank, str],
        rendered: Rendered,
        announce: str,
    ) -> list[tuple[Listener, bytes]]:
        """Each listener of ``rank`` gets the parts its page does not hold yet (and the
        announcement); one message per distinct set of parts, built once."""
        sends: list[tuple[Listener, bytes]] = []
        with self.hub.lock:
            before = lists.rendered.get(audience)
            if before is not None:
                # Unchanged parts keep their object, so listeners compare by identity.
                for name, html in rendered.parts.items():
                    if before.parts.get(name) == html:
                        rendered.parts[name] = before.parts[name]
            lists.rendered[audience] = rendered
            built: dict[tuple[str, ...], bytes] = {}
            rank, language = audience
            for listener in self._listeners(session_id, lists):
                if RANK_OF_ROLE.get(listener.role) is not rank or listener.language != language:
                    continue
                names = tuple(
                    name
                    for name, html in rendered.parts.items()
                    if not _holds(listener.people, name, html)
                )
                listener.people = rendered.parts
                if not names and not announce:
                    continue
                message = built.get(names)
                if message is None:
                    html = "".join(rendered.parts[name] for name in names) + announce
                    message = built[names] = sse_message(None, "room", html)
                sends.append((listener, message))
        return sends

    def current(self, listener: Listener) -> bytes:
        """The lists a (re)connecting listener's page needs now, right after its
        replay. From the last flush's render when that is the newest rendered (a large
        room's may lag one interval: the pending flush follows at once); rendered
        anew otherwise, which a small room's lists make cheap."""
        rank = RANK_OF_ROLE.get(listener.role)
        if rank is None:
            return b""
        audience = (rank, listener.language)
        with self.hub.lock:
            lists = self.sessions.get(listener.session_id)
            entry = lists.rendered.get(audience) if lists else None
            generation = lists.generation if lists else 0
            fresh = (
                entry is not None
                and entry.generation >= lists.flushed
                and (entry.large or entry.generation == lists.generation)
            )
        if fresh:
            parts = entry.parts
        else:
            session = db.session.get(LiveSession, listener.session_id)
            if session is None or session.ended_at is not None:
                return b""
            state = people_state(session)
            with speaking(listener.language):
                parts = people_parts(session, state, rank)
            with self.hub.lock:
                lists = self.sessions.get(listener.session_id)
                if lists is None:
                    lists = self.sessions[listener.session_id] = SessionLists(session.room_id)
                entry = lists.rendered.get(audience)
                if generation >= lists.flushed and (entry is None or entry.generation < generation):
                    lists.rendered[audience] = Rendered(generation, parts, state.shown.large)
        with self.hub.lock:
            # A flush that reached this listener first set what it holds: its message
            # comes after these bytes, so the page ends with the flush's parts.
            if listener.people is None:
                listener.people = parts
        return sse_message(None, "room", "".join(parts.values()))


def _holds(held: dict[str, str] | None, name: str, html: str) -> bool:
    if held is None:
        return False
    mine = held.get(name)
    return mine is html or mine == html
