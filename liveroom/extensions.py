"""Extension objects, created once here and bound to the app in ``create_app``."""

import functools
import re

import sqlalchemy as sa
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy.orm import DeclarativeBase

from liveroom import sqlite_locks
from liveroom.config import sqlite_lock_patience


class Base(DeclarativeBase):
    # Named constraints keep migrations and error messages readable on every backend.
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
login = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
migrate = Migrate()


@sa.event.listens_for(sa.engine.Engine, "do_connect")
def _cooperative_sqlite(dialect, connection_record, cargs, cparams) -> None:  # noqa: ANN001
    """Every SQLite connection waits for the write lock in Python, where gevent can run
    the worker's other requests meanwhile, not in SQLite's C busy handler, which
    would stop the whole worker for as long as it waits (liveroom/sqlite_locks.py)."""
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        cparams.update(sqlite_locks.connect_options(sqlite_lock_patience()))


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    """SQLite shared by several gunicorn workers: readers never block the writer (WAL),
    a writer waits for the lock instead of failing (in liveroom/sqlite_locks.py, so
    SQLite's own busy_timeout stays 0), and foreign keys are enforced."""
    if type(dbapi_connection).__module__.startswith("sqlite3") or isinstance(
        dbapi_connection, sqlite_locks.CooperativeConnection
    ):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# --- PostgreSQL: keep psycopg's prepared statements across requests ------------------

# A statement that only reads (locks and advisory locks end with COMMIT as with ROLLBACK).
_READS_ONLY = re.compile(r"\s*SELECT\b", re.IGNORECASE)


@functools.cache
def _postgres_connection_class() -> type:
    """psycopg's Connection, except that a transaction that only read ends with COMMIT.

    psycopg prepares a statement on the server once a connection has run it 5 times
    (``prepare_threshold``), so PostgreSQL neither parses nor plans it again; but any
    ROLLBACK makes psycopg forget every statement it prepared or counted on that
    connection (and send DEALLOCATE ALL), in case the transaction dropped or altered
    what they use. Every request ends with one: Flask-SQLAlchemy closes the session,
    and SQLAlchemy rolls back whatever transaction the request's last reads began
    (after Join's commit, the panel's). So nothing was ever prepared: PostgreSQL
    parsed and planned each of a join's statements every time, and the app paid for
    describing them anew. For a transaction that wrote nothing, COMMIT and ROLLBACK do
    the same (locks, advisory ones included, end with either), so that one commits
    and the prepared statements stay; a transaction that wrote, failed or did anything
    else still rolls back, as before, and psycopg forgets them then.
    """
    import psycopg

    class ReadOnlyEndsWithCommit(psycopg.Connection):
        # Set by the cursors (below) when a statement other than a SELECT runs.
        wrote = False

        def commit(self) -> None:
            super().commit()
            self.wrote = False

        def rollback(self) -> None:
            if self.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS and not (
                self.wrote
            ):
                self.commit()
                return
            super().rollback()
            self.wrote = False

    class Cursor(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):  # noqa: ANN001, ANN201
            if not (isinstance(query, str) and _READS_ONLY.match(query)):
                self.connection.wrote = True
            return super().execute(query, params, **kwargs)

        def executemany(self, query, params_seq, **kwargs):  # noqa: ANN001, ANN201
            self.connection.wrote = True
            return super().executemany(query, params_seq, **kwargs)

    ReadOnlyEndsWithCommit.cursor_factory_class = Cursor
    return ReadOnlyEndsWithCommit


@sa.event.listens_for(sa.engine.Engine, "do_connect")
def _postgres_keeps_prepared(dialect, connection_record, cargs, cparams):  # noqa: ANN001, ANN201
    """Open psycopg connections as ``_postgres_connection_class`` (see there why)."""
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        connection_class = _postgres_connection_class()
        cparams.setdefault("cursor_factory", connection_class.cursor_factory_class)
        return connection_class.connect(*cargs, **cparams)
    return None


def commit_keeping_loaded() -> None:
    """Commit without expiring what the request has loaded (the room, the person and
    their roles, the new session and stay): it is what the request just read or
    wrote, and the answer rendered next would otherwise load each of them again."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
