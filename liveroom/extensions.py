"""Extension objects, created once here and bound to the app in ``create_app``."""

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
