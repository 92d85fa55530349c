"""What a worker may remember between requests, and how every worker forgets it at once.

Two answers are asked on nearly every request and change rarely: whom this browser's
cookie signs in (the user and their open login session) and the site's switches.
Asking the database costs two queries, about a quarter of a portal page. So each
process remembers them, stamped with the deployment's *generation*: a number shared
by every process that uses the same database, which a process raises after it
commits a change to an account, a login session or a setting (``changed`` notes it,
``after_commit`` raises it). A request reads the number once and uses only what was
remembered under that same number. So "Log out", "Log out everywhere", a password or
role change and an admin's switch hold from the next request on, in every worker, as
they did when every request asked the database.

Where the number lives:

- without Redis (one host): eight bytes of a memory-mapped file in the instance
  folder, one file per database. Reading costs well under a microsecond.
- with ``LIVEROOM_REDIS_URL`` (several hosts may share one database): each process's
  own count of the changes announced on a Redis channel (``RedisGeneration``).

When the number cannot be read (the file cannot be opened, Redis is down), nothing
is remembered and every request asks the database, as before. A change made behind
the app's back (SQL typed into the database) raises nothing: whatever was remembered
is dropped ``LIVEROOM_REMEMBER_SECONDS`` (60) after it was read, whatever happens.
Only requests use what is remembered; the live hub and the CLI always ask.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
from typing import Any, Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, g, has_request_context
from flask.globals import _cv_app, _cv_request

log = logging.getLogger(__name__)

_NUMBER = struct.Struct("<Q")
_CHANGED = "liveroom_identity_changed"
_STAMP = "liveroom_generation"
_UNREAD = object()
# Far more people than a school signs in at once; past it the store starts again.
MOST_REMEMBERED = 20_000


class Generation(Protocol):
    def read(self) -> int | None: ...
    def bump(self) -> None: ...


class FileGeneration:
    """The number in a memory-mapped file shared by this host's processes."""

    def __init__(self, path: str) -> None:
        self.fd: int | None = None
        self.map: mmap.mmap | None = None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            log.warning("remembering off: cannot open %s (%s)", path, error)
            return
        try:
            with _locked(fd):
                if os.fstat(fd).st_size < _NUMBER.size:
                    os.ftruncate(fd, _NUMBER.size)
            self.map = mmap.mmap(fd, _NUMBER.size)
            self.fd = fd
        except OSError as error:
            os.close(fd)
            log.warning("remembering off: cannot map %s (%s)", path, error)

    def read(self) -> int | None:
        if self.map is None:
            return None
        return _NUMBER.unpack_from(self.map)[0]

    def bump(self) -> None:
        if self.map is None or self.fd is None:
            return
        with _locked(self.fd):
            _NUMBER.pack_into(self.map, 0, (_NUMBER.unpack_from(self.map)[0] + 1) % 2**64)


@contextlib.contextmanager
def _locked(fd: int):
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class RedisGeneration:
    """The number for databases that several hosts share: each process keeps its own,
    raised by every message on a Redis channel that every process of every host
    subscribes to, and a change is announced there (``bump``).

    A read takes whatever messages have arrived on the process's subscription
    (without waiting: no round trip, unlike asking Redis for a key on every request)
    and counts them, not the values they carry, so any change anywhere gives the
    process a number it never had. The announcement is made before the changing
    request answers, so the next request anywhere finds it waiting. Until Redis has
    confirmed the subscription, and whenever it fails, the number is None: nothing is
    remembered and every request asks the database; coming back counts as a change.
    """

    # After a failure, Redis is asked again at most this often (not on every request).
    RETRY_EVERY = 1.0

    def __init__(self, url: str, channel: str) -> None:
        import redis

        self.errors = (redis.RedisError, OSError, ValueError)
        self.url = url
        self.channel = channel
        self.client = redis_client(url)
        self.pubsub = None
        self.pid: int | None = None  # the process the subscription belongs to
        self.number: int | None = None
        self.counted = 0
        self.retry_at = 0.0
        self.lock = threading.Lock()

    def read(self) -> int | None:
        with self.lock:
            try:
                if self.pubsub is None or self.pid != os.getpid():
                    if time.monotonic() < self.retry_at:
                        return None
                    self._subscribe()
                while (message := self.pubsub.get_message(timeout=0)) is not None:
                    if message.get("type") in ("subscribe", "message"):
                        self.counted += 1
                        self.number = self.counted
            except self.errors as error:
                log.warning("remembering paused: Redis subscription failed (%s)", error)
                self._drop()
            return self.number

    def bump(self) -> None:
        for attempt in range(2):
            try:
                self.client.publish(self.channel, b"1")
                return
            except self.errors as error:
                if attempt:
                    # The others keep what they remember for LIVEROOM_REMEMBER_SECONDS
                    # at most; their own subscriptions see Redis fail too.
                    log.warning("could not announce a change through Redis: %s", error)

    def _subscribe(self) -> None:
        """A subscription of this process's own (a forked worker makes its own). The
        number stays None until Redis confirms it (the "subscribe" message)."""
        self._drop()
        client = redis_client(self.url)
        pubsub = client.pubsub()
        pubsub.subscribe(self.channel)
        self.pubsub, self.pid = pubsub, os.getpid()

    def _drop(self) -> None:
        if self.pubsub is not None and self.pid == os.getpid():
            with contextlib.suppress(Exception):
                self.pubsub.close()
        self.pubsub, self.number = None, None
        self.retry_at = time.monotonic() + self.RETRY_EVERY


def redis_client(url: str):  # noqa: ANN201  (redis.Redis, imported only when used)
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class Memory:
    """One app's remembered answers: named stores of entries stamped with the number."""

    def __init__(self, generation: Generation, seconds: float) -> None:
        self.generation = generation
        self.seconds = seconds
        self.stores: dict[str, dict[Any, tuple[int, float, Any]]] = {}

    def stamp(self) -> int | None:
        """This request's number (read once per request); None: remember nothing.
        (The contexts are read directly: every signed-in request asks several times,
        and each look through Flask's proxies is a dozen calls.)"""
        app_ctx = _cv_app.get(None)
        if app_ctx is None or _cv_request.get(None) is None or self.seconds <= 0:
            return None
        request_g = app_ctx.g
        stamp = getattr(request_g, _STAMP, _UNREAD)
        if stamp is _UNREAD:
            stamp = self.generation.read()
            setattr(request_g, _STAMP, stamp)
        return stamp

    def recall(self, store: str, key: Any) -> Any | None:
        """What was remembered under this request's number; None when nothing was,
        or when this transaction changed what it could describe (it reads its own
        changes from the database)."""
        stamp = self.stamp()
        if stamp is None or changed_here():
            return None
        entry = self.stores.get(store, {}).get(key)
        if entry is None or entry[0] != stamp or time.monotonic() - entry[1] > self.seconds:
            return None
        return entry[2]

    def keep(self, store: str, key: Any, value: Any, stamp: int | None) -> None:
        """Remember ``value``, read from the database under ``stamp`` (taken before the
        read); not while this transaction changed what it describes."""
        if stamp is None or stamp != self.stamp() or changed_here():
            return
        entries = self.stores.setdefault(store, {})
        if len(entries) >= MOST_REMEMBERED:
            entries.clear()
        entries[key] = (stamp, time.monotonic(), value)

    def forget(self, store: str, key: Any) -> None:
        self.stores.get(store, {}).pop(key, None)

    def bumped(self) -> None:
        """After this process raised the number: drop what it remembers, and use
        nothing remembered for the rest of this request."""
        self.generation.bump()
        for entries in self.stores.values():
            entries.clear()
        if has_request_context():
            g.pop(_STAMP, None)
            g.setdefault(_STAMP, None)


def memory() -> Memory | None:
    app_ctx = _cv_app.get(None)
    return app_ctx.app.extensions.get("liveroom_memory") if app_ctx is not None else None


def changed() -> None:
    """Note that this transaction changes an account, a session or a setting (for
    changes not flushed yet; flushes and bulk statements are noted by themselves)."""
    from liveroom.extensions import db

    db.session.info[_CHANGED] = True


def changed_here() -> bool:
    """This transaction changed an account, a login session or a setting."""
    from liveroom.extensions import db

    return bool(db.session.info.get(_CHANGED))


def init_app(app: Flask) -> None:
    seconds = float(app.config["LIVEROOM_REMEMBER_SECONDS"])
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    redis_url = app.config.get("LIVEROOM_REDIS_URL")
    generation: Generation
    if redis_url:
        generation = RedisGeneration(redis_url, f"liveroom:{digest}:changed")
    else:
        os.makedirs(app.instance_path, exist_ok=True)
        generation = FileGeneration(os.path.join(app.instance_path, f"generation-{digest}"))
    app.extensions["liveroom_memory"] = Memory(generation, seconds)


# --- Noting changes ------------------------------------------------------------------


def _identity_classes() -> tuple[type, ...]:
    from liveroom.models import LoginSession, Setting, User

    return (User, LoginSession, Setting)


@sa.event.listens_for(so.Session, "before_flush")
def _note_flushed_changes(session: so.Session, _context: Any, _instances: Any) -> None:
    classes = _identity_classes()
    touched = (*session.dirty, *session.deleted)
    if any(isinstance(obj, classes) for obj in touched) or any(
        isinstance(obj, classes[2]) for obj in session.new
    ):
        session.info[_CHANGED] = True


@sa.event.listens_for(so.Session, "do_orm_execute")
def _note_bulk_changes(state: so.ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    classes = _identity_classes()
    # A new account or log-in changes nothing remembered; a new setting does.
    watched = classes if not state.is_insert else classes[2:]
    if any(mapper.class_ in watched for mapper in state.all_mappers):
        state.session.info[_CHANGED] = True


@sa.event.listens_for(so.Session, "after_commit")
def _raise_generation(session: so.Session) -> None:
    if session.info.pop(_CHANGED, False) and (remembered := memory()) is not None:
        remembered.bumped()


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_noted(session: so.Session) -> None:
    session.info.pop(_CHANGED, None)
