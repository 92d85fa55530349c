"""Exporting users and channel members as CSV: the import's own formats, streamed,
guarded against spreadsheet formulas, and imported back unchanged."""

from __future__ import annotations

import io

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import User, utcnow
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import as_user, text_of


def school(app, world) -> None:
    world.user("admin", AppRole.ADMIN, name="Alex Admin")
    world.user("maria", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("ava", name='=HYPERLINK("http://evil.example")')
    world.user("bo", name="'Bo, the second")
    world.user("gone", name="Gone Away")
    world.channel("Biology 101", maria=ChannelRole.MANAGER, ava=ChannelRole.MEMBER)
    world.channel("-Chemistry", maria=ChannelRole.MODERATOR, bo=ChannelRole.CONTRIBUTOR)
    with app.app_context():
        gone = db.session.scalar(sa.select(User).where(User.username == "gone"))
        gone.deactivated_at = utcnow()
        gone.email = "gone@school.example"
        db.session.commit()


def test_users_export_in_the_import_format(app, world):
    school(app, world)
    response = as_user(app, "admin").get("/admin/export/users.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert 'filename="liveroom-users.csv"' in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines() == [
        "username,display_name,role,email,active",
        "admin,Alex Admin,adminRole,,yes",
        'ava,"\'=HYPERLINK(""http://evil.example"")",viewerRole,,yes',
        "bo,\"''Bo, the second\",viewerRole,,yes",
        "gone,Gone Away,viewerRole,gone@school.example,no",
        "maria,Maria Rivera,privateOnlyRole,,yes",
    ]


def test_memberships_export_in_the_import_format(app, world):
    school(app, world)
    response = as_user(app, "admin").get("/admin/export/memberships.csv")
    assert response.get_data(as_text=True).splitlines() == [
        "channel,username,channel_role",
        "'-Chemistry,bo,contributor",
        "'-Chemistry,maria,moderator",
        "Biology 101,ava,member",
        "Biology 101,maria,manager",
    ]


def reimport(client, kind: str, data: bytes):
    return client.post(
        "/admin/import/preview",
        data={"kind": kind, "file": (io.BytesIO(data), f"{kind}.csv")},
        content_type="multipart/form-data",
    )


def test_an_export_imports_back_unchanged(app, world):
    school(app, world)
    admin = as_user(app, "admin")
    for kind, lines in (("users", 5), ("memberships", 4)):
        exported = admin.get(f"/admin/export/{kind}.csv").get_data()
        response = reimport(admin, kind, exported)
        assert response.status_code == 200, text_of(response)
        assert f"0 to create, 0 to change, {lines} unchanged." in text_of(response)


def test_only_admins_export(app, world):
    school(app, world)
    maria = as_user(app, "maria")
    assert maria.get("/admin/export/users.csv").status_code == 403
    assert maria.get("/admin/export/memberships.csv").status_code == 403


def test_an_unknown_export_is_not_found(app, world):
    school(app, world)
    assert as_user(app, "admin").get("/admin/export/rooms.csv").status_code == 404
