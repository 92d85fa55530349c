"""Backups of a SQLite database while the server runs, and putting one back.

Both go through SQLite's online backup API (``sqlite3.Connection.backup``), never a
file copy: a copy of a live database in WAL mode can miss what is still in its
``-wal`` file, or catch a page half written.

A backup reads from one snapshot: it opens a read transaction first and copies the
pages under it a few at a time, with a short pause between steps. In WAL mode the
workers keep writing meanwhile (a reader never blocks them), and the copy holds
exactly what was committed when it began, however long it takes. (Without that read
transaction SQLite starts a stepwise backup over whenever another connection writes:
under a busy chat it never ends.) It is written to a
temporary file next to the target and renamed over it only once complete, so the
target is never half a file.

PostgreSQL has its own tools (``pg_dump``, see docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from flask_babel import gettext as _

from liveroom.extensions import db

# Pages copied per step, and the pause between steps that lets the workers write.
PAGES_PER_STEP = 256
PAUSE = 0.005
# Tables only a Liveroom database has.
LIVEROOM_TABLES = frozenset({"user", "room", "live_session", "participation", "event"})


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in one line."""


def sqlite_path() -> Path:
    """The live database's file; BackupError when it is not SQLite."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise BackupError(
            _(
                "backup and restore work on a SQLite database; for PostgreSQL use pg_dump "
                "and pg_restore (see docs/deploy.md)"
            )
        )
    return Path(url.database)


def backup_to(target: Path, force: bool = False) -> int:
    """Copy the live database to ``target``; returns its size in bytes."""
    source_path = sqlite_path()
    if not target.parent.is_dir():
        raise BackupError(_("the folder %(folder)s does not exist", folder=target.parent))
    if target.is_dir():
        raise BackupError(_("%(file)s is a folder; give a file name", file=target))
    if target.resolve() in {source_path.resolve(), *_companions(source_path)}:
        raise BackupError(
            _("%(file)s is the live database itself; choose another file", file=target)
        )
    if target.exists() and not force:
        raise BackupError(_("%(file)s exists already (add --force to replace it)", file=target))
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    source = sqlite3.connect(source_path, isolation_level=None, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            # The snapshot: every step below reads from it, whatever commits meanwhile.
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            source.backup(copy, pages=PAGES_PER_STEP, progress=_pause)
            source.execute("COMMIT")
            # One file that stands alone (no -wal beside it), checked before it counts.
            copy.execute("PRAGMA journal_mode=DELETE")
            if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(_("the copy did not pass SQLite's check; nothing was written"))
        finally:
            copy.close()
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    finally:
        source.close()
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return target.stat().st_size


def _companions(database: Path) -> set[Path]:
    return {database.resolve().with_name(database.name + end) for end in ("-wal", "-shm")}


def _pause(status: int, remaining: int, total: int) -> None:
    time.sleep(PAUSE)


def code_revisions() -> tuple[str, list[str]]:
    """The newest migration this code ships, and every revision it knows."""
    directory = current_app.extensions["migrate"].directory
    config = current_app.extensions["migrate"].migrate.get_config(directory)
    script = ScriptDirectory.from_config(config)
    return script.get_current_head(), [rev.revision for rev in script.walk_revisions()]


def check_restorable(backup: Path) -> str | None:
    """A one-line BackupError unless ``backup`` is a Liveroom SQLite database this code
    can run (its revision known here). Returns its revision (None for a database made
    without migrations, which the upgrade recognises)."""
    if not backup.is_file():
        raise BackupError(_("no file %(file)s", file=backup))
    try:
        with contextlib.closing(
            sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        ) as c:
            if c.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(_("%(file)s is a damaged SQLite database", file=backup))
            tables = {row[0] for row in c.execute("SELECT name FROM sqlite_master")}
            if not LIVEROOM_TABLES.issubset(tables):
                raise BackupError(
                    _("%(file)s is a SQLite database but not Liveroom's", file=backup)
                )
            revision = None
            if "alembic_version" in tables:
                revision = c.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = revision[0] if revision else None
    except sqlite3.DatabaseError:
        raise BackupError(_("%(file)s is not a SQLite database", file=backup)) from None
    head, known = code_revisions()
    if revision is not None and revision not in known:
        raise BackupError(
            _(
                "%(file)s comes from a newer Liveroom (schema %(revision)s, this one knows up "
                "to %(head)s): upgrade Liveroom first",
                file=backup,
                revision=revision,
                head=head,
            )
        )
    return revision


def restore_from(backup: Path) -> None:
    """Put ``backup``'s contents into the live database, through the backup API (so its
    WAL stays consistent), in one step under the write lock. The caller checked it."""
    live_path = sqlite_path()
    db.session.remove()
    db.engine.dispose()
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        live = sqlite3.connect(live_path, timeout=30)
        try:
            source.backup(live)
        finally:
            live.close()
    finally:
        source.close()
    db.engine.dispose()


def schema_revision() -> str | None:
    """The live database's migration revision (None without ``alembic_version``)."""
    if not sa.inspect(db.engine).has_table("alembic_version"):
        return None
    return db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
