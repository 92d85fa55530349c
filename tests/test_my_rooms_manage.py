"""My Rooms: owners rename and delete their rooms; a room that held a meeting is
archived instead (its attendance stays, for admins too, and its link says so)."""

from __future__ import annotations

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Room
from liveroom.roles import AppRole
from tests.conftest import HTMX, as_user, text_of


def setup(app, world) -> tuple:
    world.enable()
    world.user("maria", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("ken", AppRole.PRIVATE_ONLY, name="Ken Ito")
    room = world.private_room("maria", "Office hours")
    return as_user(app, "maria"), room


def room_row(app, public_id: str) -> Room | None:
    with app.app_context():
        return db.session.scalar(sa.select(Room).where(Room.public_id == public_id))


def actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def test_owner_renames_a_room(app, world):
    maria, room = setup(app, world)
    answer = maria.post(f"/my-rooms/{room}/rename", data={"name": " Algebra help "}, headers=HTMX)
    assert answer.status_code == 200
    assert "Renamed to “Algebra help”." in text_of(answer)
    assert room_row(app, room).name == "Algebra help"
    assert "Algebra help" in text_of(maria.get(f"/rooms/{room}"))
    assert actions(app)[-1] == "private_room_renamed"


def test_rename_follows_the_name_rules(app, world):
    maria, room = setup(app, world)
    world.private_room("maria", "Algebra")
    taken = maria.post(f"/my-rooms/{room}/rename", data={"name": "ALGEBRA"}, headers=HTMX)
    assert taken.status_code == 422
    assert "You already have a room called “ALGEBRA”." in text_of(taken)
    empty = maria.post(f"/my-rooms/{room}/rename", data={"name": "  "}, headers=HTMX)
    assert empty.status_code == 422
    assert "Enter a name for the room." in text_of(empty)
    assert room_row(app, room).name == "Office hours"


def test_only_the_owner_renames_or_deletes(app, world):
    _, room = setup(app, world)
    ken = as_user(app, "ken")
    assert ken.post(f"/my-rooms/{room}/rename", data={"name": "Mine"}).status_code == 404
    assert ken.post(f"/my-rooms/{room}/delete").status_code == 404
    assert room_row(app, room).name == "Office hours"


def test_a_room_without_meetings_is_deleted(app, world):
    maria, room = setup(app, world)
    answer = maria.post(f"/my-rooms/{room}/delete", headers=HTMX)
    assert "“Office hours” is deleted." in text_of(answer)
    assert room_row(app, room) is None
    assert actions(app)[-1] == "private_room_deleted"


def test_a_room_with_history_is_archived_and_its_link_says_so(app, world):
    maria, room = setup(app, world)
    assert maria.post(f"/rooms/{room}/start", headers=HTMX).status_code == 200
    answer = maria.post(f"/my-rooms/{room}/delete", headers=HTMX)
    assert "is archived" in text_of(answer)
    stored = room_row(app, room)
    assert stored.archived_at is not None
    with app.app_context():
        assert db.session.scalar(sa.select(LiveSession.ended_at)) is not None  # the meeting ended
    assert "Office hours" not in text_of(maria.get("/my-rooms"))
    link = as_user(app, "ken").get(f"/rooms/{room}")
    assert "This room is archived" in text_of(link)
    assert as_user(app, "ken").post(f"/rooms/{room}/start").status_code == 403
    # Its attendance stays reachable for the school's admins.
    world.user("alex", AppRole.ADMIN)
    assert as_user(app, "alex").get(f"/rooms/{room}/attendance").status_code == 200
    # The name is free again.
    assert maria.post("/my-rooms", data={"name": "Office hours"}).status_code in (201, 303)
    assert actions(app)[-1] == "private_room_archived"
