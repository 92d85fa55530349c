"""The audit log page: who did what to whom and when, names rather than ids, filters
by actor, action and dates, pages."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Room, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, as_user, text_of


def school(app, world):
    world.user("alex", AppRole.ADMIN, name="Alex Admin")
    world.user("maria", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.channel("Biology 101", maria=ChannelRole.MANAGER)
    return as_user(app, "alex")


def add_entries(app, *entries: tuple) -> None:
    with app.app_context():
        for actor, action, detail, at in entries:
            actor_id = (
                db.session.scalar(sa.select(User.id).where(User.username == actor))
                if actor
                else None
            )
            db.session.add(AuditEntry(actor_id=actor_id, action=action, detail=detail, at=at))
        db.session.commit()


def test_meeting_actions_name_the_people_and_the_room(app, world):
    alex = school(app, world)
    with app.app_context():
        maria = db.session.scalar(sa.select(User).where(User.username == "maria"))
        sam_id = db.session.scalar(sa.select(User.id).where(User.username == "sam"))
        room_id = db.session.scalar(sa.select(Room.id).where(Room.name == "Biology 101"))
        session = LiveSession(room_id=room_id, started_by_id=maria.id)
        db.session.add(session)
        db.session.commit()
        detail = f"meeting {session.id}, user {sam_id}"
    add_entries(app, ("maria", "room.participant_removed", detail, datetime(2026, 11, 2, 10)))
    text = text_of(alex.get("/admin/audit"))
    assert "Maria Rivera" in text
    assert "Removed from a meeting" in text
    assert "meeting in “Biology 101”, Sam Lee" in text
    assert "user " not in text.split("Removed from a meeting")[1][:80]


def test_filters_by_actor_action_and_dates(app, world):
    alex = school(app, world)
    add_entries(
        app,
        ("maria", "membership_added", "sam: member of Biology 101", datetime(2026, 11, 1, 9)),
        ("alex", "channel_created", "Chemistry", datetime(2026, 11, 5, 9)),
        (None, "user_created", "ken: viewerRole (CLI)", datetime(2026, 11, 9, 9)),
    )
    by_maria = text_of(alex.get("/admin/audit", query_string={"actor": "maria"}))
    assert "sam: member of Biology 101" in by_maria and "Chemistry" not in by_maria
    created = text_of(
        alex.get("/admin/audit", query_string={"action": "channel_created"}, headers=HTMX)
    )
    assert "Chemistry" in created and "1 entry" in created
    dated = text_of(
        alex.get("/admin/audit", query_string={"from": "2026-11-04", "to": "2026-11-05"})
    )
    assert "Chemistry" in dated and "ken:" not in dated and "sam: member" not in dated
    cli = text_of(alex.get("/admin/audit", query_string={"actor": "cli"}))
    assert "Command line" in cli and "ken: viewerRole" in cli and "Chemistry" not in cli
    page = alex.get("/admin/audit")
    assert '<option value="channel_created"' in page.get_data(as_text=True)


def test_bad_filters_are_explained(app, world):
    alex = school(app, world)
    answer = alex.get("/admin/audit", query_string={"from": "yesterday", "actor": "nobody"})
    assert answer.status_code == 422
    text = text_of(answer)
    assert "“yesterday” is not a date (YYYY-MM-DD)." in text
    assert "No account has the username “nobody”." in text


def test_pages_of_fifty(app, world):
    alex = school(app, world)
    add_entries(
        app,
        *[
            ("alex", "channel_renamed", f"Class {n} → Class {n}b", datetime(2026, 11, 1))
            for n in range(120)
        ],
    )
    first = text_of(alex.get("/admin/audit"))
    assert "120 entries, page 1 of 3." in first
    assert "Class 119 →" in first and "Class 60 →" not in first
    last = text_of(alex.get("/admin/audit", query_string={"page": 3}))
    assert "Class 0 →" in last


def test_only_admins_read_the_audit_log(app, world):
    school(app, world)
    assert as_user(app, "maria").get("/admin/audit").status_code == 403
