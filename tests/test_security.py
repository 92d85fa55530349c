"""CSRF, escaping and the Content-Security-Policy."""

import re
from pathlib import Path

import pytest

from liveroom.roles import AppRole, ChannelRole
from tests.conftest import PASSWORD, make_app, text_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture
def csrf_app(tmp_path):
    return make_app(tmp_path, WTF_CSRF_ENABLED=True)


def csrf_token_of(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def logged_in(app, world_user):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": world_user, "password": PASSWORD, "csrf_token": token})
    return client


def test_state_changes_without_a_csrf_token_are_refused(csrf_app, tmp_path):
    from tests.conftest import World

    world = World(csrf_app)
    world.user("teacher")
    world.enable()
    channel = world.channel(teacher=ChannelRole.MANAGER)
    room = world.room_of(channel)
    client = logged_in(csrf_app, "teacher")
    refused = client.post(f"/rooms/{room}/start", headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert "This form has expired. Reload the page and try again." in text_of(refused)
    # HTMX sends the page's token in a header: that is accepted.
    token = csrf_token_of(client.get(f"/channels/{channel}").get_data(as_text=True))
    accepted = client.post(
        f"/rooms/{room}/start", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert accepted.status_code == 200


def test_login_form_needs_its_csrf_token(csrf_app):
    from tests.conftest import World

    World(csrf_app).user("teacher")
    response = csrf_app.test_client().post(
        "/login", data={"username": "teacher", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_user_text_is_escaped(app, world):
    world.user("teacher", AppRole.PRIVATE_ONLY, name="<b>Maria</b>")
    world.enable()
    client = app.test_client()
    client.post("/login", data={"username": "teacher", "password": PASSWORD})
    client.post("/my-rooms", data={"name": "<script>alert(1)</script>"})
    html = client.get("/my-rooms").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Maria</b>" not in html


def test_pages_send_a_strict_content_security_policy(client):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_templates_have_no_inline_script_or_event_handlers():
    for template in TEMPLATES.rglob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), template
        assert not re.search(r"\son[a-z]+\s*=", source), template
        assert "|safe" not in source.replace(" ", ""), template


def test_front_end_libraries_are_served_by_the_app(client):
    response = client.get("/vendor/htmx.min.js")
    assert response.status_code == 200
    assert b"htmx" in response.data[:2000]
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/vendor/htmx.org/package.json").status_code == 404
