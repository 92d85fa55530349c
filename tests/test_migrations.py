"""The schema ships as migrations: they build what the models describe, and upgrading
a database that holds data keeps it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from liveroom import create_app
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.text import name_key


def migrated_app(tmp_path, revision: str = "head"):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrated.sqlite'}",
            "SECRET_KEY": "test",
        }
    )
    with app.app_context():
        upgrade(revision=revision)
    return app


def test_migrations_build_exactly_the_models(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    hub_of(app).stop()
    assert differences == []


def test_init_db_upgrades_a_database_made_before_migrations(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}",
            "SECRET_KEY": "test",
        }
    )
    runner = app.test_cli_runner()
    with app.app_context():
        # The schema as the baseline revision made it, with a user in it.
        upgrade(revision="0001_baseline")
        db.session.execute(sa.text("DROP TABLE alembic_version"))
        db.session.execute(
            sa.text(
                "INSERT INTO user (username, display_name, password_hash, role, created_at) "
                "VALUES ('maria', 'Maria', 'x', 'privateOnlyRole', '2026-01-01')"
            )
        )
        db.session.commit()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT display_name FROM user")) == "Maria"
        assert db.session.scalar(sa.text("SELECT count(*) FROM login_session")) == 0
    hub_of(app).stop()


def test_upgrade_keeps_rooms_and_renames_names_that_now_collide(tmp_path):
    app = migrated_app(tmp_path, "0001_baseline")
    with app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO user (id, username, display_name, password_hash, role, created_at) "
                "VALUES (1, 'maria', 'Maria', 'x', 'privateOnlyRole', '2026-01-01'),"
                " (2, 'ana', 'Ana', 'x', 'privateOnlyRole', '2026-01-01')"
            )
        )
        # "Café" composed, "Café" decomposed: two rooms under the old rule, one name now.
        rooms = [
            ("r1", "Caf\u00e9", "caf\u00e9", 1),
            ("r2", "Cafe\u0301", "cafe\u0301", 1),
            ("r3", "Stra\u00dfe", "stra\u00dfe", 1),
            ("r4", "STRASSE", "strasse", 1),
            ("r5", "Caf\u00e9", "caf\u00e9", 2),
        ]
        for public_id, name, key, owner in rooms:
            db.session.execute(
                sa.text(
                    "INSERT INTO room (public_id, name, name_key, owner_id, created_at) "
                    "VALUES (:p, :n, :k, :o, '2026-01-01')"
                ),
                {"p": public_id, "n": name, "k": key, "o": owner},
            )
        db.session.commit()
        upgrade()
        names = dict(db.session.execute(sa.text("SELECT public_id, name FROM room")).all())
        keys = dict(db.session.execute(sa.text("SELECT public_id, name_key FROM room")).all())
    hub_of(app).stop()
    assert names == {
        "r1": "Caf\u00e9",
        "r2": "Caf\u00e9 (2)",
        "r3": "Stra\u00dfe",
        "r4": "STRASSE (2)",
        "r5": "Caf\u00e9",  # another owner's room keeps its name
    }
    assert keys["r2"] == name_key("caf\u00e9 (2)")


def test_upgrade_gives_every_stay_its_persons_sort_name(tmp_path):
    app = migrated_app(tmp_path, "0004_media")
    with app.app_context():
        statements = [
            "INSERT INTO user (id, username, display_name, password_hash, role, created_at) "
            "VALUES (1, 'maria', 'Maria Rivera', 'x', 'viewerRole', '2026-01-01'),"
            " (2, 'sam', 'sam LEE', 'x', 'viewerRole', '2026-01-01')",
            "INSERT INTO room (id, public_id, name, name_key, owner_id, created_at) "
            "VALUES (1, 'r1', 'Room', 'room', 1, '2026-01-01')",
            "INSERT INTO live_session (id, room_id, started_by_id, started_at, locked,"
            " chat_enabled) VALUES (1, 1, 1, '2026-01-01', 0, 1)",
            "INSERT INTO participation (session_id, user_id, room_role, joined_at, last_seen_at)"
            " VALUES (1, 1, 'instructor', '2026-01-01', '2026-01-01'),"
            " (1, 2, 'participant', '2026-01-01', '2026-01-01')",
        ]
        for statement in statements:
            db.session.execute(sa.text(statement))
        db.session.commit()
        upgrade()
        sort_names = db.session.execute(
            sa.text("SELECT user_id, sort_name FROM participation ORDER BY user_id")
        ).all()
    hub_of(app).stop()
    assert sort_names == [(1, "maria rivera"), (2, "sam lee")]
