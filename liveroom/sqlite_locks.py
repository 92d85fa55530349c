"""Waiting for SQLite's write lock without holding up the rest of a gevent worker.

SQLite lets one connection write at a time. Its own way to wait (``busy_timeout``)
sleeps inside the C library, and under gevent that sleep stops the whole worker
process: every open room stream and every other request of that worker waits with
the one request that wants the lock, for up to the whole timeout. So the C timeout is
0 (``liveroom/extensions.py``) and the waiting happens here instead: a statement that
finds the database locked is tried again after a pause taken with ``time.sleep``,
which gevent's monkey-patching turns into a pause of this greenlet only (in a plain
threaded server it is an ordinary sleep, no worse than SQLite's).

Retrying a statement is safe only where it begins the transaction's hold on the
database. pysqlite (Python's ``sqlite3``, in its default transaction handling, which
SQLAlchemy keeps) runs reads outside any transaction and opens one with ``BEGIN``
right before the first INSERT, UPDATE or DELETE: so a transaction takes the write lock
with its first write, having read nothing inside it, and a lock refused there leaves
nothing behind to undo (no snapshot that could have gone stale, the SQLITE_BUSY_SNAPSHOT
case). A read-only request never opens a transaction and never takes the write lock.
A statement of a transaction that already holds the lock never meets SQLITE_BUSY; if
one ever does, it is not retried (what it read may have changed) but reported.

Within one process, writers take turns before they try for the lock (``writer_turn``):
a transaction's first write waits for the turn (a gevent lock, so again only its
greenlet waits), keeps it until it commits or rolls back, and only the turn's holder
retries against SQLite. Without the turns, every waiting greenlet of a busy worker
retried on its own timer: a herd of attempts that cost CPU and left the lock to
whoever retried at the right moment, so some writes waited far longer than others
(bench/README.md, "Writes under load"). Reads take no turn.

A statement that cannot get the lock within the patience (``LIVEROOM_SQLITE_LOCK_PATIENCE``,
5 s, what ``busy_timeout=5000`` allowed before) raises :class:`DatabaseBusy`, which
the app answers with 503 and ``Retry-After`` instead of a server error.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, Response

log = logging.getLogger(__name__)

SQLITE_BUSY = 5
# The first pause is short (a chat post holds the lock about a millisecond); pauses
# double up to the longest, with jitter so waiting requests do not retry in step.
FIRST_PAUSE_SECONDS = 0.001
LONGEST_PAUSE_SECONDS = 0.025
# A wait this long is worth a line in the log: the database is that busy.
LONG_WAIT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 2
BUSY_MESSAGE = "The database is busy right now. Please try again in a moment."

T = TypeVar("T")
# What pysqlite opens a transaction for (the statement that takes the write lock).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

_turn: tuple[int, threading.Lock] | None = None


def writer_turn() -> threading.Lock:
    """This process's turn to write. Made on first use in each process, so after
    gunicorn's fork and after gevent's monkey-patching: a gevent lock in a worker."""
    global _turn
    if _turn is None or _turn[0] != os.getpid():
        _turn = (os.getpid(), threading.Lock())
    return _turn[1]


class DatabaseBusy(sqlite3.OperationalError):
    """SQLite's write lock was not free within the patience. A DBAPI error, so
    SQLAlchemy wraps it in ``sqlalchemy.exc.OperationalError`` like any other."""

    sqlite_errorcode = SQLITE_BUSY
    sqlite_errorname = "SQLITE_BUSY"


def is_busy(error: BaseException | None) -> bool:
    """Whether ``error`` (a DBAPI error) is SQLite's "database is locked"."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY


def wait_for_lock(connection: CooperativeConnection, sql: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (one statement), trying again while the database is locked, if
    the connection held no transaction before it (see the module's docstring). The
    first write of a transaction waits for this process's writer turn first."""
    if connection.in_transaction:
        return attempt()
    began = time.monotonic()
    deadline = began + connection.lock_patience
    if sql.lstrip()[:7].upper().startswith(WRITES):
        connection.take_turn(deadline)
    try:
        result = retry_while_busy(attempt, began, deadline)
    finally:
        if not connection.in_transaction:
            connection.end_turn()  # the statement failed or opened no transaction
    return result


def retry_while_busy(attempt: Callable[[], T], began: float, deadline: float) -> T:
    pause = FIRST_PAUSE_SECONDS
    warned = False
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            now = time.monotonic()
            if now >= deadline:
                raise gave_up(began) from error
            if not warned and now - began >= LONG_WAIT_SECONDS:
                warned = True
                log.warning(
                    "waiting for SQLite's write lock for %.1f s so far; the worker's"
                    " other requests go on meanwhile",
                    now - began,
                )
        # Monkey-patched under gevent: only this greenlet pauses.
        time.sleep(min(pause * random.uniform(0.5, 1.0), max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


def gave_up(began: float) -> DatabaseBusy:
    waited = time.monotonic() - began
    log.warning("gave up waiting for SQLite's write lock after %.1f s; answering 503", waited)
    return DatabaseBusy(f"database is locked (waited {waited:.1f} s for the write lock)")


class CooperativeCursor(sqlite3.Cursor):
    """A cursor whose statements wait for a locked database cooperatively."""

    connection: CooperativeConnection

    def execute(self, sql: str, parameters: Any = (), /) -> CooperativeCursor:
        run = super().execute
        return wait_for_lock(self.connection, sql, lambda: run(sql, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> CooperativeCursor:
        # A retry needs the rows again, and an iterator gives them only once.
        rows = parameters if isinstance(parameters, list | tuple) else list(parameters)
        run = super().executemany
        return wait_for_lock(self.connection, sql, lambda: run(sql, rows))


class CooperativeConnection(sqlite3.Connection):
    """A ``sqlite3`` connection whose cursors are :class:`CooperativeCursor`.
    ``sqlite3.connect(..., factory=...)`` makes it; the patience is set right after."""

    lock_patience: float = 5.0
    holds_turn: bool = False

    def take_turn(self, deadline: float) -> None:
        began = time.monotonic()
        if not writer_turn().acquire(timeout=max(0.0, deadline - began)):
            raise gave_up(began)
        self.holds_turn = True

    def end_turn(self) -> None:
        if self.holds_turn:
            self.holds_turn = False
            writer_turn().release()

    # The turn lasts as long as the transaction: until it commits or rolls back.
    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def cursor(self, factory: Callable[..., sqlite3.Cursor] | None = None) -> sqlite3.Cursor:
        return super().cursor(factory or CooperativeCursor)

    # sqlite3's own shortcuts make their cursor in C, past cursor(): route them here.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)


def connect_options(patience: float) -> dict[str, Any]:
    """What ``sqlite3.connect`` is given: no C-level waiting, our connection class."""

    class Connection(CooperativeConnection):
        lock_patience = patience

    return {"factory": Connection, "timeout": 0}


def init_app(app: Flask) -> None:
    """Answer a request whose write could not get the lock in time with 503."""
    from liveroom.errors import error_page

    @app.errorhandler(sa.exc.OperationalError)
    def database_busy(error: sa.exc.OperationalError) -> Response:
        if not is_busy(error.orig):
            raise error  # any other database failure stays a logged server error
        response = error_page(503, BUSY_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
