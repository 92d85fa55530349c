"""The per-process hub: one watcher reads the event log and feeds local streams.

Every worker process runs one watcher thread (a greenlet under gevent). It sleeps until
it is woken: by this process's own commits, by Redis when another host or worker
committed (``LIVEROOM_REDIS_URL``), or, without Redis, by a datagram from another
worker of this host (``liveroom/live/wake.py``). Without Redis it also looks by itself
every ``LIVEROOM_EVENT_POLL_SECONDS`` (1 s: on SQLite a stat() of the database files)
in case a wake-up was lost; with Redis it reads nothing on a timer. It reads new
events with one query, renders each once per audience and puts the bytes on the
queues of this process's listeners (streams of people in a meeting) and watchers
(pages waiting for a meeting to start or end). Streams never query the database in
a loop.

Database connections: the watcher holds one only while it reads and renders a batch,
the upkeep only while it writes; a waiting stream and the hub between reads hold none.
Nothing here waits for a lock while holding a connection (that is how 200 streams
opening at once used to starve PostgreSQL's pool: each opening request held its
connection while queueing for the hub's lock, and the lock's holder queued for a
connection).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask
from flask_babel import gettext as _

from liveroom import events, handouts, leases, metrics, ratelimit, retention
from liveroom.auth import sessions as login_sessions
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.live import slots
from liveroom.live.people import PeopleLists
from liveroom.live.render import (
    PEOPLE_KINDS,
    Listener,
    Plan,
    Watcher,
    by_language,
    plan_for,
    render_template,
    rendering,
    speaking,
    sse_message,
    status_message,
)
from liveroom.live.wake import LocalWake
from liveroom.media import signals
from liveroom.media.backend import sweep_media
from liveroom.models import LiveSession
from liveroom.rooms import meetings, presence

log = logging.getLogger(__name__)

try:
    import gevent.queue as _gevent_queue

    QUEUE_FULL: tuple = (queue.Full, _gevent_queue.Full)
    QUEUE_EMPTY: tuple = (queue.Empty, _gevent_queue.Empty)
except ImportError:  # gevent is optional for the threaded development server
    QUEUE_FULL = (queue.Full,)
    QUEUE_EMPTY = (queue.Empty,)

# A listener whose browser reads too slowly is cut off rather than buffered without
# end; its EventSource reconnects with Last-Event-ID and catches up from the log.
QUEUE_LIMIT = 2000
# How long a missing event id (a transaction that took its id and has not committed
# yet, on PostgreSQL) is looked for. Newer events are not held back meanwhile: the
# late one is delivered when it commits. A rolled-back insert never does; its id is
# forgotten after this long.
GAP_PATIENCE = 10.0
# A gap wider than this is a sequence jump (a server restart), not transactions.
GAP_WIDEST = 1000
# How long an opening stream waits for this process's watcher to find the log's end.
STARTUP_PATIENCE = 10.0
# The upkeep's round: goodbyes and closed streams are written, and streams whose login
# session ended are closed, this often.
KEEP_PRESENT_EVERY = 3.0
# "Still here" (each open stream's stay and slot) is written this often: a third of the
# rounds. Well inside LIVEROOM_PRESENCE_TIMEOUT (30 s), and in a room of 1,000 it is
# 1,000 row versions a worker writes each time, so not every round.
REFRESH_PRESENT_EVERY = 3 * KEEP_PRESENT_EVERY
# While an id is missing (see GAP_PATIENCE) the log is read again this often.
GAP_RETRY = 0.05
KEEP_ALIVE = b": keep-alive\n\n"
SWEEP_EVERY = 5.0
# The sweep lease outlives a few missed sweeps: another worker takes over when the
# holder died, not when it was briefly busy.
SWEEP_LEASE = 3 * SWEEP_EVERY
# Old rate-limit rows are deleted this often (they only slow the counts down).
FORGET_RATE_HITS_EVERY = 60.0
# Retention (liveroom/retention.py) runs this often, a few bounded batches each time:
# its periods are days, and each run reads every old meeting's (mostly empty) rows.
PRUNE_EVERY = 600.0
# Sent to a stream whose login session ended: the page asks for its state again and is
# sent to the log-in page. No id, so the browser's resume point stays where it was.
SESSION_ENDED = b"event: refresh\ndata: refresh\n\n"


# Never replayed to a (re)connecting stream, so not even read for it: an arrival
# sends nothing of its own (the current lists follow every replay), and a media
# signal is negotiated afresh by the page. In a join storm a stream opening seconds
# after its panel would otherwise load every arrival since, hundreds, to send none.
NOT_REPLAYED = frozenset({Kind.PARTICIPANT_JOINED, Kind.SIGNAL})


# What pages outside a meeting hear about (see Hub.watch).
WATCHED_KINDS = frozenset({Kind.SESSION_STARTED, Kind.SESSION_ENDED, Kind.SITE_CHANGED})


# Pages one browser may keep watching in one worker (each is a connection).
WATCHERS_PER_LOGIN = 30


class TooManyWatchers(RuntimeError):
    """One browser holds more watching pages in this worker than anyone needs."""


class HubNotReady(RuntimeError):
    """This process's watcher could not read the event log yet (database down)."""


@dataclass(frozen=True)
class Cursor:
    """What the watcher had delivered when a listener subscribed: every id up to
    ``high`` except the ``missing`` ones. Replay covers exactly that, the queue the rest."""

    high: int
    missing: frozenset[int]

    def delivered(self, event_id: int) -> bool:
        return event_id <= self.high and event_id not in self.missing


def new_queue(limit: int):
    """A listener's queue: gevent's own under gevent workers (far cheaper to wake than
    a monkey-patched threading queue), the standard one under threads."""
    try:
        from gevent import monkey
    except ImportError:
        return queue.Queue(maxsize=limit)
    if monkey.is_module_patched("threading"):
        import gevent.queue

        return gevent.queue.Queue(maxsize=limit)
    return queue.Queue(maxsize=limit)


class Hub:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll_seconds = app.config["LIVEROOM_EVENT_POLL_SECONDS"]
        # Guards the listeners and the watcher's position; never held across a query.
        self.lock = threading.Lock()
        self.rooms: dict[int, set[Listener]] = {}
        # Pages that show a room without being in its meeting (a channel page, a
        # room's link, My Rooms, a pupil waiting for the start), by room id.
        self.watchers: dict[int, set[Watcher]] = {}
        self.watcher_count = 0
        # Every stream of this process by its browser's login session, kept as they
        # come and go so the upkeep never walks all of them.
        self.by_login: dict[int, set[Listener | Watcher]] = {}
        # Stream slots (liveroom/live/slots.py) of this process's listeners.
        self.slot_of: dict[Listener, int] = {}
        self.by_slot: dict[int, Listener] = {}
        # Open streams per stay: the last one to close says goodbye for its person.
        self.streams_of_stay: dict[int, int] = {}
        # notify() sets both; the watcher takes ``woken`` back under ``wake_lock``, so
        # a notice that comes while it wakes for another reason is never lost.
        self.wake = threading.Event()
        self.wake_lock = threading.Lock()
        self.woken = False
        self.ready = threading.Event()
        self.pid: int | None = None
        # The newest event id delivered, and older ids not seen yet (id -> since when).
        self.high = 0
        self.missing: dict[int, float] = {}
        self.plans: OrderedDict[int, Plan] = OrderedDict()
        self.plans_lock = threading.Lock()
        # People lists, counts and hands: coalesced per session (live/people.py).
        self.people = PeopleLists(self)
        self.goodbyes: list[int] = []
        self.closed_slots: list[int] = []
        self.stopping = False
        # Set by stop(): the threads' sleeps end at once, and they are joined.
        self.halted = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sqlite_files = sqlite_files(app.config["SQLALCHEMY_DATABASE_URI"])
        self.marker: tuple = ()
        self.next_forget = 0.0
        self.next_prune = 0.0
        # Meetings live anywhere, counted from the log as the watcher reads it.
        self.live_meetings = 0

    # --- listeners -------------------------------------------------------------------

    def subscribe(self, listener: Listener, slot_id: int | None = None) -> Cursor:
        """Add a listener; returns what it must replay from the log (the rest comes
        through its queue). Call it holding no database connection: it may wait for
        the watcher to start, and the watcher needs one for that."""
        self.ensure_running()
        if not self.ready.wait(STARTUP_PATIENCE):
            raise HubNotReady("The room's live updates are not available yet.")
        listener.queue = new_queue(QUEUE_LIMIT)
        with self.lock:
            self.rooms.setdefault(listener.room_id, set()).add(listener)
            if slot_id is not None:
                self.slot_of[listener] = slot_id
                self.by_slot[slot_id] = listener
            stay = listener.participation_id
            if stay is not None:
                self.streams_of_stay[stay] = self.streams_of_stay.get(stay, 0) + 1
            self._index_login(listener)
            cursor = Cursor(self.high, frozenset(self.missing))
        metrics.stream_opened("room")
        return cursor

    def unsubscribe(self, listener: Listener) -> None:
        """Remove a listener: a few dictionary operations, however many are open."""
        if isinstance(listener, Watcher):
            self.unwatch(listener)
            return
        with self.lock:
            room = self.rooms.get(listener.room_id)
            if room is None or listener not in room:
                return  # already gone (closed by the hub, then by its stream)
            room.discard(listener)
            if not room:
                del self.rooms[listener.room_id]
            self._unindex_login(listener)
            slot_id = self.slot_of.pop(listener, None)
            if slot_id is not None:
                self.by_slot.pop(slot_id, None)
                self.closed_slots.append(slot_id)
            stay = listener.participation_id
            if stay is not None:
                left = self.streams_of_stay.get(stay, 1) - 1
                if left > 0:
                    self.streams_of_stay[stay] = left
                else:
                    self.streams_of_stay.pop(stay, None)
                    self.goodbyes.append(stay)
        metrics.stream_closed("room")

    def watch(self, watcher: Watcher) -> None:
        """Add a page that waits for its rooms' meetings to start or end. Call it
        holding no database connection (it may wait for the watcher to start)."""
        self.ensure_running()
        if not self.ready.wait(STARTUP_PATIENCE):
            raise HubNotReady("Live updates are not available yet.")
        watcher.queue = new_queue(QUEUE_LIMIT)
        with self.lock:
            mine = self.by_login.get(watcher.login_id, ())
            if sum(isinstance(s, Watcher) for s in mine) >= WATCHERS_PER_LOGIN:
                raise TooManyWatchers(
                    _("This browser has too many pages open here. Close a few and reload.")
                )
            for room_id in watcher.room_ids:
                self.watchers.setdefault(room_id, set()).add(watcher)
            self.watcher_count += 1
            self._index_login(watcher)
        metrics.stream_opened("status")

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            if watcher.closed:
                return
            watcher.closed = True
            for room_id in watcher.room_ids:
                room = self.watchers.get(room_id)
                if room is not None:
                    room.discard(watcher)
                    if not room:
                        del self.watchers[room_id]
            self.watcher_count -= 1
            self._unindex_login(watcher)
        metrics.stream_closed("status")

    def _index_login(self, stream: Listener | Watcher) -> None:
        if stream.login_id is not None:
            self.by_login.setdefault(stream.login_id, set()).add(stream)

    def _unindex_login(self, stream: Listener | Watcher) -> None:
        streams = self.by_login.get(stream.login_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self.by_login[stream.login_id]

    def slot_unused(self, slot_id: int) -> None:
        """A stream that took a slot and then never subscribed: free the slot."""
        with self.lock:
            self.closed_slots.append(slot_id)

    def listener_count(self) -> int:
        with self.lock:
            return sum(len(room) for room in self.rooms.values())

    def _all_streams(self) -> list[Listener | Watcher]:
        """Every open stream of this process (the caller holds the lock)."""
        return [stream for streams in self.by_login.values() for stream in streams] + [
            listener
            for room in self.rooms.values()
            for listener in room
            if listener.login_id is None
        ]

    def notify(self) -> None:
        """Something was committed: look at the log now rather than at the next tick."""
        with self.wake_lock:
            self.woken = True
            self.wake.set()

    # --- the watcher -----------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start this process's threads (again after a fork: threads do not survive it).

        No query here: the watcher finds the log's end by itself and then sets
        ``ready``, so a request holding a connection never waits on one that needs it.
        """
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.ready.clear()
            self.threads = [
                threading.Thread(target=target, name=f"liveroom-{name}", daemon=True)
                for target, name in (
                    (self._watch, "watcher"),
                    (self._upkeep, "upkeep"),
                    (self._heartbeat, "heartbeat"),
                )
            ]
            for thread in self.threads:
                thread.start()
            bus = self.app.extensions.get("liveroom_bus")
            if bus is not None:
                bus.listen(self.notify)
            self.pid = os.getpid()

    def stop(self, wait: float = 10.0) -> None:
        """End this hub's threads (tests start many apps in one process), waiting up
        to ``wait`` seconds for them: a query they were making finishes first, so the
        database can go once this returns."""
        self.stopping = True
        self.halted.set()
        self.wake.set()
        bus = self.app.extensions.get("liveroom_bus")
        if bus is not None:
            bus.close()
        deadline = time.monotonic() + wait
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _find_the_end(self) -> None:
        """Start from the newest event; retried until the database answers."""
        while not self.stopping:
            try:
                with self.app.app_context():
                    try:
                        newest = events.newest_id()
                        live = meetings.live_count()
                    finally:
                        db.session.remove()
            except Exception:
                if self.stopping:
                    return
                log.exception("live hub: cannot read the event log yet; retrying")
                self.halted.wait(0.5)
                continue
            with self.lock:
                self.high = newest
                self.missing.clear()
                self.live_meetings = live
            self.ready.set()
            return

    def _watch(self) -> None:
        """Sleep until woken (this process committed, or another one said it did);
        look by itself only every ``poll_seconds`` in case a wake-up was lost (never
        with Redis), and briefly while an id is missing."""
        self._find_the_end()
        while not self.stopping:
            timeout = GAP_RETRY if self.missing else (self.poll_seconds or None)
            flush_in = self.people.due_in(time.monotonic())
            if flush_in is not None:  # a people list to send: wake up for it
                timeout = flush_in if timeout is None else min(timeout, flush_in)
            self.wake.wait(timeout)
            with self.wake_lock:
                woken, self.woken = self.woken, False
                self.wake.clear()
            if self.stopping:
                return
            try:
                if woken or self.missing or self.database_changed():
                    self.dispatch_new()
                self.flush_people()
            except Exception:  # keep watching: one bad event must not stop the room
                if self.stopping:
                    return
                log.exception("live hub: dispatch failed")
                self.halted.wait(0.5)

    def dispatch_new(self) -> int:
        """Deliver every committed event not delivered yet. Returns how many.

        Ids are taken in one order and committed in another on PostgreSQL, so an id
        may be missing while newer ones are visible. The newer ones go out at once;
        the missing one is asked for by id on the next reads and delivered when it
        commits (it belongs to a transaction that ran at the same time, so no order
        between the two was promised anyway).
        """
        now = time.monotonic()
        expired = [i for i, since in self.missing.items() if now - since > GAP_PATIENCE]
        if expired:
            with self.lock:
                for event_id in expired:
                    self.missing.pop(event_id, None)
        with rendering(self.app):
            try:
                batch = events.after_or_among(self.high, sorted(self.missing))
                for event in batch:
                    displaced = event.kind == Kind.STREAM_DISPLACED
                    with self.lock:
                        if not self._advance(event.id, now):
                            continue  # delivered already
                        if event.kind in PEOPLE_KINDS or event.kind == Kind.SESSION_ENDED:
                            self.people.changed(event, now)
                        if event.kind == Kind.SESSION_STARTED:
                            self.live_meetings += 1
                        elif event.kind == Kind.SESSION_ENDED:
                            self.live_meetings = max(0, self.live_meetings - 1)
                        if displaced:
                            target = self.by_slot.get(event.data.get("stream_id"))
                            listeners = [target] if target is not None else []
                        else:
                            listeners = list(self.rooms.get(event.room_id, ()))
                        watchers = self._watchers_of(event)
                    if listeners and displaced:
                        self._displace(event, listeners[0])
                    elif listeners:
                        # Once per language present: one render per audience in a
                        # room that speaks one language.
                        for language, group in by_language(listeners).items():
                            self._deliver(self.plan(event, language), group)
                    if watchers:
                        self._tell_watchers(event, watchers)
                metrics.events_dispatched(len(batch))
                return len(batch)
            finally:
                db.session.remove()

    def flush_people(self) -> None:
        """Send the people lists that are due, one message per listener at most."""
        now = time.monotonic()
        if self.people.due_in(now) != 0.0:
            return
        with rendering(self.app):
            try:
                sends = self.people.flush_due(now)
            finally:
                db.session.remove()
        for listener, message in sends:
            try:
                listener.queue.put_nowait((0, message))
            except QUEUE_FULL:  # it reconnects, and gets the lists anew
                self._cut_off(listener)

    def _advance(self, event_id: int, now: float) -> bool:
        """Note ``event_id`` as delivered (the caller holds the lock). False when it
        was already: a read raced a newer one."""
        if event_id in self.missing:
            del self.missing[event_id]
            return True
        if event_id <= self.high:
            return False
        if event_id - self.high <= GAP_WIDEST:
            for gap in range(self.high + 1, event_id):
                self.missing[gap] = now
        self.high = event_id
        return True

    def database_changed(self) -> bool:
        """Whether another process may have written: on SQLite a look at the database
        files' size and time (microseconds, no query), elsewhere always yes."""
        if not self.sqlite_files:
            return True
        marker = tuple(file_marker(path) for path in self.sqlite_files)
        changed = marker != self.marker
        self.marker = marker
        return changed

    def plan(self, event, language: str = "en") -> Plan:
        """The event rendered for each audience in ``language``, cached for
        reconnecting listeners."""
        key = (event.id, language)
        with self.plans_lock:
            cached = self.plans.get(key)
        if cached is None:
            cached = plan_for(event, language)
            with self.plans_lock:
                self.plans[key] = cached
                while len(self.plans) > 5000:
                    self.plans.popitem(last=False)
        return cached

    def _deliver(self, plan: Plan, listeners: list[Listener]) -> None:
        for listener in listeners:
            for message in plan.for_listener(listener):
                try:
                    listener.queue.put_nowait((plan.event_id, message))
                except QUEUE_FULL:
                    self._cut_off(listener)
                    break
            else:
                if plan.closes and plan.closes_listener(listener):
                    self.unsubscribe(listener)
                    with contextlib.suppress(*QUEUE_FULL):
                        listener.queue.put_nowait(None)

    def _watchers_of(self, event) -> list[Watcher]:
        """The pages to tell about ``event`` (the caller holds the lock): a meeting
        started or ended in their room; the site's switches changed for all."""
        if not self.watcher_count or event.kind not in WATCHED_KINDS:
            return []
        if event.kind == Kind.SITE_CHANGED:
            return list({w for room in self.watchers.values() for w in room})
        return list(self.watchers.get(event.room_id, ()))

    def _tell_watchers(self, event, watchers: list[Watcher]) -> None:
        for language, group in by_language(watchers).items():
            message = status_message(event, language)
            for watcher in group:
                try:
                    watcher.queue.put_nowait((0, message))
                except QUEUE_FULL:
                    self._cut_off(watcher)

    def _displace(self, event, listener: Listener) -> None:
        """A sixth stream of the same person opened: the oldest one is told so, and
        closed without reconnecting."""
        message = displaced_message(event, listener.language)
        self.unsubscribe(listener)
        with contextlib.suppress(*QUEUE_FULL):
            listener.queue.put_nowait((event.id, message))
        with contextlib.suppress(*QUEUE_FULL):
            listener.queue.put_nowait(None)

    def _cut_off(self, listener: Listener) -> None:
        metrics.listener_cut_off()
        self.unsubscribe(listener)
        try:
            listener.queue.get_nowait()
            listener.queue.put_nowait(None)
        except (*QUEUE_EMPTY, *QUEUE_FULL):
            pass

    def replay(
        self, listener: Listener, after_id: int, cursor: Cursor, slot_id: int | None = None
    ) -> tuple[bytes, bool]:
        """What a (re)connecting listener missed since ``after_id``, bounded by its session.

        Only events the watcher had delivered when the listener subscribed
        (``cursor``) are replayed; the others reach its queue. Returns the bytes, and
        whether the stream must end there (it was displaced by a newer one already).
        """
        limit = 5000
        found = events.session_after(listener.session_id, after_id, limit, NOT_REPLAYED)
        chunks = []
        for event in found:
            if not cursor.delivered(event.id):
                continue
            if event.kind == Kind.STREAM_DISPLACED:
                if slot_id is not None and event.data.get("stream_id") == slot_id:
                    chunks.append(displaced_message(event, listener.language))
                    return b"".join(chunks), True
                continue
            # A message deleted since it was sent must not come back with its text
            # (nor a caption line erased with its writer's data).
            language = listener.language
            if event.kind in (Kind.CHAT_POSTED, Kind.CAPTION_POSTED):
                plan = plan_for(event, language)
            else:
                plan = self.plan(event, language)
            chunks.extend(plan.for_listener(listener))
        if len(found) == limit:
            # Too far behind to replay: the page re-reads its whole state instead.
            chunks.append(sse_message(cursor.high, "refresh", "refresh"))
        # Replayed events carry no lists: the current ones come once, after them.
        chunks.append(self.people.current(listener))
        return b"".join(chunks), False

    # --- upkeep: keep-alives, presence and tidy sessions ----------------------------------

    def _heartbeat(self) -> None:
        """One timer for all streams: a keep-alive comment in every idle queue.

        Streams then wait on their queue without a timeout of their own, which spares a
        timer per stream per message when a room of 1,000 receives chat.
        """
        every = self.app.config["LIVEROOM_STREAM_HEARTBEAT"]
        while not self.halted.wait(every):
            with self.lock:
                listeners = self._all_streams()
            for listener in listeners:
                if listener.queue.empty():
                    with contextlib.suppress(QUEUE_FULL):
                        listener.queue.put_nowait((0, KEEP_ALIVE))

    def _upkeep(self) -> None:
        """Every few seconds: this process's streams are still here. Every
        SWEEP_EVERY seconds, for the process holding the sweep lease (one at a time
        across every worker and host): close stays nobody keeps, end meetings
        without an instructor and, once a minute, forget old rows."""
        next_sweep = 0.0
        next_refresh = time.monotonic() + REFRESH_PRESENT_EVERY
        holder = leases.holder_name(self)
        while not self.halted.wait(KEEP_PRESENT_EVERY):
            try:
                refresh = time.monotonic() >= next_refresh
                if refresh:
                    next_refresh = time.monotonic() + REFRESH_PRESENT_EVERY - 0.5
                self.keep_present(refresh=refresh)
                # Nothing to sweep while no meeting is live anywhere (the watcher counts
                # starts and ends as it reads them): an idle server reads nothing then,
                # but for the tidy every FORGET_RATE_HITS_EVERY seconds.
                due = self.live_meetings > 0 or time.monotonic() >= self.next_forget
                if due and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_EVERY
                    with self.app.app_context():
                        try:
                            if leases.take("sweep", holder, SWEEP_LEASE):
                                self.sweep()
                        finally:
                            db.session.remove()
            except Exception:
                if self.stopping:
                    return  # its database may be gone already: nothing to report
                log.exception("live hub: upkeep failed")

    def sweep(self) -> None:
        """The leaseholder's share of the upkeep: close stays nobody keeps, end
        meetings without an instructor and, once a minute, forget old rows."""
        with self.app.app_context():
            try:
                if self.live_meetings > 0:
                    meetings.sweep_all(self.app.config["LIVEROOM_PRESENCE_TIMEOUT"])
                # Rooms and passes on the media server that ended meetings and stays
                # left behind (nothing when none is configured).
                sweep_media()
                if time.monotonic() >= self.next_forget:
                    self.next_forget = time.monotonic() + FORGET_RATE_HITS_EVERY
                    ratelimit.forget_old()
                    login_sessions.forget_old()
                    slots.forget_old()
                    signals.forget_old()
                    handouts.forget_expired()  # an import's temporary passwords, after 10 min
                    db.session.commit()
                if time.monotonic() >= self.next_prune:
                    self.next_prune = time.monotonic() + PRUNE_EVERY
                    # Ended meetings' old events, chat and attendance: bounded batches,
                    # each its own short transaction (the rest waits for the next run).
                    retention.prune()
            finally:
                db.session.remove()

    def keep_present(self, refresh: bool = True) -> None:
        """A few writes for all of this process's open streams: with ``refresh``, their
        people are still here and their slots still open; always, the goodbyes and
        closed slots since. Then one read: streams whose login session ended (log-out,
        here or in another copy of the cookie, or everywhere, or it ran out) get a
        refresh and are closed. A process with no stream open makes no query here."""
        with self.lock:
            ids = sorted(self.streams_of_stay) if refresh else []
            goodbyes = [pid for pid in self.goodbyes if pid not in self.streams_of_stay]
            self.goodbyes = []
            open_slots = sorted(self.by_slot) if refresh else []
            closed, self.closed_slots = self.closed_slots, []
            logins = sorted(self.by_login)
        if not (ids or goodbyes or open_slots or closed or logins):
            return  # nothing open here: no query at all
        try:
            with self.app.app_context():
                try:
                    presence.keep_present(ids)
                    presence.say_goodbye_to(goodbyes)
                    slots.keep_open(open_slots)
                    slots.close(closed)
                    ended = login_sessions.ended_among(logins) if logins else []
                finally:
                    db.session.remove()
        except Exception:
            with self.lock:  # try these again next time
                self.goodbyes.extend(goodbyes)
                self.closed_slots.extend(closed)
            raise
        for login_id in ended:
            with self.lock:
                streams = list(self.by_login.get(login_id, ()))
            for listener in streams:
                self._end_with_session(listener)

    def _end_with_session(self, listener: Listener) -> None:
        """Its login session ended: the page refreshes (and finds itself logged out),
        and the stream ends rather than go on hearing the room."""
        self.unsubscribe(listener)
        try:
            listener.queue.put_nowait((0, SESSION_ENDED))
        except QUEUE_FULL:
            self._cut_off(listener)
            return
        with contextlib.suppress(*QUEUE_FULL):
            listener.queue.put_nowait(None)


def displaced_message(event, language: str = "en") -> bytes:
    """ "This room is open in another tab", for the stream a newer one displaced."""
    session = db.session.get(LiveSession, event.session_id)
    with speaking(language):
        html = render_template("rooms/_displaced.html", room=session.room, session=session)
    return sse_message(event.id, "displaced", html)


def sqlite_files(url: str) -> list[str]:
    """The files whose changes mean "new events" on SQLite: the database and its WAL."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return []
    path = url[len(prefix) :].split("?", 1)[0]
    return [path, f"{path}-wal"]


def file_marker(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def hub_of(app: Flask) -> Hub:
    return app.extensions["liveroom_hub"]


def init_app(app: Flask) -> None:
    hub = Hub(app)
    app.extensions["liveroom_hub"] = hub
    redis_url = app.config.get("LIVEROOM_REDIS_URL")
    if redis_url:
        from liveroom.live.redis_bus import RedisBus

        bus = RedisBus(redis_url)
    else:
        bus = LocalWake(app.config["SQLALCHEMY_DATABASE_URI"])
    app.extensions["liveroom_bus"] = bus
    events.on_commit(app, bus.publish)
    events.on_commit(app, hub.notify)
