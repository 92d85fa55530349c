"""The schema ships as migrations: they build what the models describe, and upgrading
a database that holds data keeps it, on SQLite and on PostgreSQL (the run's database:
tests/databases.py)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import upgrade

from liveroom import create_app
from liveroom.cli import schema_differences
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.text import name_key
from tests import databases


def app_on(folder, name: str = "migrated"):
    """The app on a new, empty database of the run's kind."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "SQLALCHEMY_DATABASE_URI": databases.database_url(folder, name, empty=True),
            "SECRET_KEY": "test",
        }
    )


def migrated_app(tmp_path, revision: str = "head"):
    app = app_on(tmp_path)
    with app.app_context():
        upgrade(revision=revision)
    return app


def test_migrations_build_exactly_the_models(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context(), db.engine.connect() as connection:
        differences = schema_differences(connection)
        migrated_indexes = index_definitions(connection)
    hub_of(app).stop()
    assert differences == []
    # The indexes on expressions, which Alembic cannot compare, and all the others: the
    # same as the models make (create_all), as the database itself writes them out.
    modelled = make_app_on(tmp_path / "modelled")
    with modelled.app_context(), db.engine.connect() as connection:
        assert migrated_indexes == index_definitions(connection)
    hub_of(modelled).stop()


def index_definitions(connection: sa.Connection) -> dict[str, str]:
    """Every index of the schema as the database writes it out."""
    if connection.dialect.name == "postgresql":
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    return {
        name: " ".join((definition or "").replace('"', "").split())
        for name, definition in connection.execute(sa.text(query))
        if name != "alembic_version_pkc"
    }


def make_app_on(folder):
    """The app on a new database whose schema ``create_all`` made from the models."""
    app = app_on(folder, "modelled")
    with app.app_context():
        db.create_all()
    return app


def test_init_db_upgrades_a_database_made_before_migrations(tmp_path):
    app = app_on(tmp_path, "old")
    runner = app.test_cli_runner()
    with app.app_context():
        # The schema as the baseline revision made it, with a user in it.
        upgrade(revision="0001_baseline")
        db.session.execute(sa.text("DROP TABLE alembic_version"))
        db.session.execute(
            sa.text(
                'INSERT INTO "user" (username, display_name, password_hash, role, created_at) '
                "VALUES ('maria', 'Maria', 'x', 'privateOnlyRole', '2026-01-01')"
            )
        )
        db.session.commit()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.text('SELECT display_name FROM "user"')) == "Maria"
        assert db.session.scalar(sa.text("SELECT count(*) FROM login_session")) == 0
    hub_of(app).stop()


def test_upgrade_keeps_rooms_and_renames_names_that_now_collide(tmp_path):
    app = migrated_app(tmp_path, "0001_baseline")
    with app.app_context():
        db.session.execute(
            sa.text(
                'INSERT INTO "user" (id, username, display_name, password_hash, role, created_at) '
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
            'INSERT INTO "user" (id, username, display_name, password_hash, role, created_at) '
            "VALUES (1, 'maria', 'Maria Rivera', 'x', 'viewerRole', '2026-01-01'),"
            " (2, 'sam', 'sam LEE', 'x', 'viewerRole', '2026-01-01')",
            "INSERT INTO room (id, public_id, name, name_key, owner_id, created_at) "
            "VALUES (1, 'r1', 'Room', 'room', 1, '2026-01-01')",
            "INSERT INTO live_session (id, room_id, started_by_id, started_at, locked,"
            " chat_enabled) VALUES (1, 1, 1, '2026-01-01', false, true)",
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


# A school's data as the baseline revision stored it: every table of the baseline, with
# the ids the database gave (as a real school's would be).
BASELINE_DATA = [
    'INSERT INTO "user" (username, display_name, password_hash, role, created_at) VALUES'
    " ('maria', 'Maria Rivera', 'hash-m', 'privateOnlyRole', '2026-01-05 08:00:00'),"
    " ('sam', 'Sam Lee', 'hash-s', 'viewerRole', '2026-01-05 08:01:00')",
    "INSERT INTO channel (name, description, created_at) VALUES"
    " ('Biology 101', 'Cells & ecosystems', '2026-01-05 08:02:00')",
    "INSERT INTO setting (key, value) VALUES ('liveRoomEnabled', 'true')",
    "INSERT INTO membership (channel_id, user_id, role) VALUES (1, 1, 'manager'), (1, 2, 'member')",
    "INSERT INTO room (public_id, name, name_key, channel_id, owner_id, created_at) VALUES"
    " ('bio-room', 'Biology 101', 'biology 101', 1, NULL, '2026-01-05 08:03:00'),"
    " ('office', 'Office hours', 'office hours', NULL, 1, '2026-01-05 08:04:00')",
    "INSERT INTO live_session (room_id, started_at, started_by_id, ended_at, ended_by_id,"
    " end_reason, locked, chat_enabled) VALUES"
    " (1, '2026-01-06 09:00:00', 1, '2026-01-06 09:45:00', 1, 'ended', false, true)",
    "INSERT INTO participation (session_id, user_id, room_role, joined_at, last_seen_at,"
    " left_at) VALUES"
    " (1, 1, 'instructor', '2026-01-06 09:00:00', '2026-01-06 09:45:00', '2026-01-06 09:45:00'),"
    " (1, 2, 'participant', '2026-01-06 09:02:00', '2026-01-06 09:40:00', '2026-01-06 09:40:00')",
    "INSERT INTO chat_message (session_id, author_id, body, created_at) VALUES"
    " (1, 2, 'Is mitosis on the test?', '2026-01-06 09:10:00'),"
    " (1, 1, 'Yes, chapter 4.', '2026-01-06 09:11:00')",
    "INSERT INTO event (room_id, session_id, kind, data, created_at) VALUES"
    " (1, 1, 'chat_posted', '{\"message_id\": 1}', '2026-01-06 09:10:00')",
    "INSERT INTO removal (session_id, user_id, removed_by_id, removed_at) VALUES"
    " (1, 2, 1, '2026-01-06 09:40:00')",
    "INSERT INTO waiting_entry (session_id, user_id, asked_at, decision, decided_at,"
    " decided_by_id) VALUES (1, 2, '2026-01-06 09:41:00', 'denied', '2026-01-06 09:42:00', 1)",
    "INSERT INTO audit_entry (at, actor_id, action, detail) VALUES"
    " ('2026-01-05 08:05:00', 1, 'settings.changed', 'liveRoomEnabled=true')",
]


def test_upgrade_from_the_baseline_keeps_a_schools_data(tmp_path):
    from liveroom.models import AuditEntry, ChatMessage, LiveSession, Participation, Room, User
    from liveroom.roles import AppRole

    app = migrated_app(tmp_path, "0001_baseline")
    with app.app_context():
        for statement in BASELINE_DATA:
            db.session.execute(sa.text(statement))
        db.session.commit()
        upgrade()
        db.session.remove()

        maria = db.session.scalar(sa.select(User).where(User.username == "maria"))
        assert (maria.display_name, maria.role, maria.password_hash) == (
            "Maria Rivera",
            AppRole.PRIVATE_ONLY,
            "hash-m",
        )
        biology = maria.memberships[0].channel
        assert (biology.name, biology.description) == ("Biology 101", "Cells & ecosystems")
        assert {m.user.username: m.role.value for m in biology.memberships} == {
            "maria": "manager",
            "sam": "member",
        }
        rooms = db.session.scalars(sa.select(Room).order_by(Room.id)).all()
        assert [(r.public_id, r.name, r.channel_id, r.owner_id) for r in rooms] == [
            ("bio-room", "Biology 101", biology.id, None),
            ("office", "Office hours", None, maria.id),
        ]
        meeting = db.session.scalar(sa.select(LiveSession))
        assert (meeting.started_at.isoformat(), meeting.ended_at.isoformat()) == (
            "2026-01-06T09:00:00",
            "2026-01-06T09:45:00",
        )
        stays = db.session.scalars(sa.select(Participation).order_by(Participation.id)).all()
        assert [(s.user.username, s.room_role.value, s.sort_name) for s in stays] == [
            ("maria", "instructor", "maria rivera"),
            ("sam", "participant", "sam lee"),
        ]
        chat = db.session.scalars(sa.select(ChatMessage).order_by(ChatMessage.id)).all()
        assert [(m.author.username, m.body) for m in chat] == [
            ("sam", "Is mitosis on the test?"),
            ("maria", "Yes, chapter 4."),
        ]
        assert db.session.scalar(sa.text("SELECT count(*) FROM removal")) == 1
        assert db.session.scalar(sa.text("SELECT decision FROM waiting_entry")) == "denied"
        assert db.session.scalar(sa.text("SELECT kind FROM event")) == "chat_posted"
        assert db.session.scalar(sa.select(AuditEntry.detail)) == "liveRoomEnabled=true"
        assert db.session.scalar(sa.text("SELECT value FROM setting")) == "true"
        # And the upgraded database takes new rows where the old ones left off.
        db.session.add(ChatMessage(session_id=meeting.id, author_id=maria.id, body="Welcome back"))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChatMessage)) == 3
    hub_of(app).stop()
