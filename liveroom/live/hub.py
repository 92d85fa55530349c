"""The per-process hub: one watcher reads the event log and feeds local streams.

Every worker process runs one watcher thread (a greenlet under gevent). It wakes when
this process commits an event, when Redis says another process did (if
``LIVEROOM_REDIS_URL`` is set), or every ``LIVEROOM_EVENT_POLL_SECONDS`` otherwise. It
reads new events with one query, renders each once per audience and puts the bytes on
the queues of this process's listeners. Streams never query the database in a loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from datetime import timedelta

from flask import Flask

from liveroom import events
from liveroom.extensions import db
from liveroom.live.render import Listener, Plan, plan_for, sse_message
from liveroom.models import utcnow
from liveroom.rooms import service

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
# How long an id gap may wait for its (slower) transaction before the watcher moves on.
GAP_PATIENCE = timedelta(seconds=2)
KEEP_PRESENT_EVERY = 3.0
SAFETY_READ = 0.1
KEEP_ALIVE = b": keep-alive\n\n"
SWEEP_EVERY = 5.0


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
        self.lock = threading.Lock()
        self.rooms: dict[int, set[Listener]] = {}
        self.wake = threading.Event()
        self.pid: int | None = None
        self.last_id = 0
        self.plans: OrderedDict[int, Plan] = OrderedDict()
        self.plans_lock = threading.Lock()
        self.goodbyes: list[int] = []
        self.stopping = False
        self.sqlite_files = sqlite_files(app.config["SQLALCHEMY_DATABASE_URI"])
        self.marker: tuple = ()
        self.last_read = 0.0

    # --- listeners -------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self.ensure_running()
        listener.queue = new_queue(QUEUE_LIMIT)
        with self.lock:
            self.rooms.setdefault(listener.room_id, set()).add(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self.lock:
            room = self.rooms.get(listener.room_id)
            if room is None or listener not in room:
                return  # already gone (closed by the hub, then by its stream)
            room.discard(listener)
            if not room:
                del self.rooms[listener.room_id]
            still_here = listener.participation_id is not None and any(
                other.participation_id == listener.participation_id
                for room in self.rooms.values()
                for other in room
            )
            if listener.participation_id is not None and not still_here:
                self.goodbyes.append(listener.participation_id)

    def listener_count(self) -> int:
        with self.lock:
            return sum(len(room) for room in self.rooms.values())

    def notify(self) -> None:
        """Something was committed: look at the log now rather than at the next tick."""
        self.wake.set()

    # --- the watcher -----------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start this process's watcher (again after a fork: threads do not survive it)."""
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            with self.app.app_context():
                self.last_id = events.newest_id()
                db.session.remove()
            for target, name in (
                (self._watch, "watcher"),
                (self._upkeep, "upkeep"),
                (self._heartbeat, "heartbeat"),
            ):
                threading.Thread(target=target, name=f"liveroom-{name}", daemon=True).start()
            bus = self.app.extensions.get("liveroom_bus")
            if bus is not None:
                bus.listen(self.notify)

    def stop(self) -> None:
        """End this hub's threads (tests start many apps in one process)."""
        self.stopping = True
        self.wake.set()
        bus = self.app.extensions.get("liveroom_bus")
        if bus is not None:
            bus.close()

    def _watch(self) -> None:
        while not self.stopping:
            woken = self.wake.wait(self.poll_seconds)
            self.wake.clear()
            # File times tick coarsely: two writes in one tick look like one, so the log
            # is also read at least every SAFETY_READ seconds.
            overdue = time.monotonic() - self.last_read >= SAFETY_READ
            if not (woken or overdue or self.database_changed()):
                continue
            self.last_read = time.monotonic()
            try:
                self.dispatch_new()
            except Exception:  # keep watching: one bad event must not stop the room
                log.exception("live hub: dispatch failed")
                time.sleep(0.5)

    def dispatch_new(self) -> int:
        """Deliver every committed event newer than the last one seen. Returns how many."""
        with self.app.test_request_context("/"):
            try:
                batch = events.all_after(self.last_id)
                delivered = 0
                for event in batch:
                    if event.id != self.last_id + 1 and utcnow() - event.created_at < GAP_PATIENCE:
                        # An older id may still be committing (PostgreSQL sequences); wait.
                        self.wake.set()
                        time.sleep(0.005)
                        break
                    self.last_id = event.id
                    with self.lock:
                        listeners = list(self.rooms.get(event.room_id, ()))
                    if listeners:
                        self._deliver(self.plan(event), listeners)
                    delivered += 1
                return delivered
            finally:
                db.session.remove()

    def database_changed(self) -> bool:
        """Whether another process may have written: on SQLite a look at the database
        files' size and time (microseconds, no query), elsewhere always yes."""
        if not self.sqlite_files:
            return True
        marker = tuple(file_marker(path) for path in self.sqlite_files)
        changed = marker != self.marker
        self.marker = marker
        return changed

    def plan(self, event) -> Plan:
        """The event rendered for each audience, cached for reconnecting listeners."""
        with self.plans_lock:
            cached = self.plans.get(event.id)
        if cached is None:
            cached = plan_for(event)
            with self.plans_lock:
                self.plans[event.id] = cached
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

    def _cut_off(self, listener: Listener) -> None:
        self.unsubscribe(listener)
        try:
            listener.queue.get_nowait()
            listener.queue.put_nowait(None)
        except (*QUEUE_EMPTY, *QUEUE_FULL):
            pass

    def replay(self, listener: Listener, after_id: int, limit: int = 5000) -> tuple[bytes, int]:
        """What a (re)connecting listener missed since ``after_id``, bounded by its session.

        Only events this process's watcher has already passed are replayed; the newer
        ones reach the listener's queue in order (the watcher waits out id gaps, which
        a replay could not). Returns the bytes and the id up to which it covered.
        """
        upto = self.last_id
        missed = [
            e for e in events.session_after(listener.session_id, after_id, limit) if e.id <= upto
        ]
        chunks = []
        for event in missed:
            # A message deleted since it was sent must not come back with its text.
            plan = plan_for(event) if event.kind == "chat_posted" else self.plan(event)
            chunks.extend(plan.for_listener(listener))
        if len(missed) == limit:
            # Too far behind to replay: the page re-reads its whole state instead.
            chunks.append(sse_message(upto, "refresh", "refresh"))
        return b"".join(chunks), max(upto, after_id)

    # --- upkeep: keep-alives, presence and tidy sessions ----------------------------------

    def _heartbeat(self) -> None:
        """One timer for all streams: a keep-alive comment in every idle queue.

        Streams then wait on their queue without a timeout of their own, which spares a
        timer per stream per message when a room of 1,000 receives chat.
        """
        every = self.app.config["LIVEROOM_STREAM_HEARTBEAT"]
        while not self.stopping:
            time.sleep(every)
            with self.lock:
                listeners = [listener for room in self.rooms.values() for listener in room]
            for listener in listeners:
                if listener.queue.empty():
                    with contextlib.suppress(QUEUE_FULL):
                        listener.queue.put_nowait((0, KEEP_ALIVE))

    def _upkeep(self) -> None:
        next_sweep = 0.0
        while not self.stopping:
            time.sleep(KEEP_PRESENT_EVERY)
            try:
                self.keep_present()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_EVERY
                    with self.app.app_context():
                        service.sweep_all(self.app.config["LIVEROOM_PRESENCE_TIMEOUT"])
                        db.session.remove()
            except Exception:
                log.exception("live hub: upkeep failed")

    def keep_present(self) -> None:
        """One write for all of this process's open streams, and their goodbyes."""
        with self.lock:
            ids = sorted(
                {
                    listener.participation_id
                    for room in self.rooms.values()
                    for listener in room
                    if listener.participation_id is not None
                }
            )
            goodbyes, self.goodbyes = [pid for pid in self.goodbyes if pid not in ids], []
        with self.app.app_context():
            service.keep_present(ids)
            for participation_id in goodbyes:
                service.say_goodbye_to(participation_id)
            db.session.remove()


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
        app.extensions["liveroom_bus"] = bus
        events.on_commit(app, bus.publish)
    events.on_commit(app, hub.notify)
