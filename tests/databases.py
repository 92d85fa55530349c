"""The database the tests run on, chosen by one setting.

``LIVEROOM_TEST_DATABASE=sqlite`` (the default) gives each test SQLite files in its
own temporary folder. ``LIVEROOM_TEST_DATABASE=postgresql`` gives each test a
throwaway database on the real PostgreSQL server at ``LIVEROOM_TEST_POSTGRES``
(127.0.0.1:5432 by default), copied from a template that already holds the schema;
every database a run made is dropped when the test that made it ends, and whatever
is left (a module's shared database) when the run ends. ``make test`` runs the suite
once with each.
"""

from __future__ import annotations

import os
import tempfile
import threading
from itertools import count
from pathlib import Path

import sqlalchemy as sa

KIND = os.environ.get("LIVEROOM_TEST_DATABASE", "sqlite")
if KIND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"LIVEROOM_TEST_DATABASE must be sqlite or postgresql, not '{KIND}'")
ON_POSTGRES = KIND == "postgresql"

POSTGRES = os.environ.get("LIVEROOM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
# Every database of this run starts with this, so that the run can drop what it made
# (and a run killed half-way leaves names that say whose they were).
PREFIX = f"lr_test_{os.getpid()}_"
_TEMPLATE = f"{PREFIX}template"

_lock = threading.Lock()
_numbers = count(1)
_made: dict[tuple[str, str], str] = {}  # (folder, name) -> database name
_template_ready = False
_admin: sa.Engine | None = None


def database_url(folder: Path, name: str = "test", empty: bool = False) -> str:
    """The URL of the database called ``name`` in ``folder``: the same one every time
    it is asked for (two apps of one test share it). On PostgreSQL a new database is
    made the first time: with the app's tables, or ``empty`` for tests that build the
    schema themselves (the migrations)."""
    if not ON_POSTGRES:
        return f"sqlite:///{folder / f'{name}.sqlite'}"
    key = (str(folder), name)
    with _lock:
        if key not in _made:
            database = f"{PREFIX}{next(_numbers)}"
            _run(f'CREATE DATABASE "{database}"' + ("" if empty else f' TEMPLATE "{_template()}"'))
            _made[key] = database
        return f"{POSTGRES}/{_made[key]}"


def drop_made_in(folder: Path) -> None:
    """Drop the databases made for ``folder`` and the folders inside it."""
    if not ON_POSTGRES:
        return
    inside = str(folder)
    with _lock:
        mine = [key for key in _made if key[0] == inside or key[0].startswith(inside + os.sep)]
        for key in mine:
            _run(f'DROP DATABASE IF EXISTS "{_made.pop(key)}" WITH (FORCE)')


def drop_all() -> None:
    """Drop every database this run made, the template last."""
    global _template_ready, _admin
    if not ON_POSTGRES or _admin is None:
        return
    with _lock:
        for database in _made.values():
            _run(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _made.clear()
        if _template_ready:
            _run(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')
            _template_ready = False
        _admin.dispose()
        _admin = None


def _template() -> str:
    """The template database with the app's tables, made once per run."""
    global _template_ready
    if not _template_ready:
        from liveroom import create_app
        from liveroom.extensions import db

        _run(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')
        _run(f'CREATE DATABASE "{_TEMPLATE}"')
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"{POSTGRES}/{_TEMPLATE}",
                "SECRET_KEY": "template",
                "INSTANCE_PATH": tempfile.mkdtemp(prefix="lr-template-"),
            }
        )
        with app.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()  # a template must have no connection when it is copied
        _template_ready = True
    return _TEMPLATE


def _run(statement: str) -> None:
    global _admin
    if _admin is None:
        _admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with _admin.connect() as connection:
        connection.execute(sa.text(statement))
