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


def posted_with(client, path: str, token: str):
    """An HTMX POST carrying ``token`` as the page's header does."""
    return client.post(path, headers={"HX-Request": "true", "X-CSRFToken": token})


def teacher_signed_in(app):
    """A channel with its room, and its Manager signed in: (channel, room, client)."""
    from tests.conftest import World

    world = World(app)
    world.user("teacher")
    world.enable()
    channel = world.channel(teacher=ChannelRole.MANAGER)
    return channel, world.room_of(channel), logged_in(app, "teacher")


def test_state_changes_without_a_csrf_token_are_refused(csrf_app, tmp_path):
    channel, room, client = teacher_signed_in(csrf_app)
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


def test_pages_send_a_permissions_policy_for_camera_microphone_and_screen(client):
    policy = client.get("/login").headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "display-capture"):
        assert f"{feature}=(self)" in policy


def test_https_sites_send_hsts_and_plain_ones_do_not(tmp_path, client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = make_app(tmp_path / "secure", SESSION_COOKIE_SECURE=True)
    assert "max-age=" in secure.test_client().get("/login").headers["Strict-Transport-Security"]


@pytest.mark.browser
def test_a_pupils_tab_has_no_csp_violation_or_console_error(tmp_path):
    """A pupil joins, chats, raises a hand, is promoted and demoted (each ends their
    stream), and sees the meeting end: the console stays clean all along."""
    from playwright.sync_api import expect, sync_playwright

    from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, open_link, serve

    watch = (
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + (e.target && e.target.outerHTML"
        " ? e.target.outerHTML.slice(0, 200) : '')), true)"
    )
    problems: list[str] = []
    with serve(demo_app(tmp_path)) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def log_in(username: str, password: str, watched: bool):
            context = browser.new_context(base_url=base)
            context.add_init_script(watch)
            page = context.new_page()
            if watched:
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto("/login")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            open_link(page, "Biology 101")
            return page

        teacher = log_in("teacher", "liveroom-teacher", watched=False)
        teacher.get_by_role("button", name="Start Meeting").click()
        pupil = log_in("student1", "liveroom-student", watched=True)
        pupil.get_by_role("button", name="Join Meeting").click()
        expect(pupil.get_by_text("You are a participant")).to_be_visible()
        message = pupil.get_by_role("textbox", name="Message")
        message.fill("hello https://example.com")
        message.press("Enter")
        expect(teacher.get_by_text("hello")).to_be_visible()
        pupil.get_by_role("button", name=re.compile("Raise")).click()
        expect(teacher.locator("#people-list li", has_text="Sam Lee")).to_have_count(1)
        teacher.locator("#people-list li", has_text="Sam Lee").locator("summary").click()
        teacher.get_by_role("button", name="Set as moderator").click()
        expect(pupil.get_by_text("You are a moderator")).to_be_visible()
        teacher.locator("#people-list li", has_text="Sam Lee").locator("summary").click()
        teacher.get_by_role("button", name="Make participant").click()
        expect(pupil.get_by_text("You are a participant")).to_be_visible()
        teacher.once("dialog", lambda dialog: dialog.accept())
        teacher.get_by_role("button", name="End meeting for everyone").click()
        expect(pupil.get_by_role("heading", name="This meeting has ended")).to_be_visible()
        browser.close()
    assert problems == []


def test_with_a_time_limit_forms_carry_a_token_signed_within_the_last_minute(tmp_path, monkeypatch):
    """Where a school sets WTF_CSRF_TIME_LIMIT (an hour here; Liveroom sets none), the
    signed token is reused for a minute (liveroom/auth/csrf_tokens.py), so a form shown
    at any moment still has (nearly) the whole hour."""
    from itsdangerous.timed import TimestampSigner

    from liveroom.auth import csrf_tokens

    now = [1_900_000_000.0]
    monkeypatch.setattr(csrf_tokens, "clock", lambda: now[0])
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(now[0]))
    csrf_app = make_app(tmp_path, WTF_CSRF_ENABLED=True, WTF_CSRF_TIME_LIMIT=3600)
    channel, room, client = teacher_signed_in(csrf_app)

    def tokens_on_page() -> set[str]:
        html = client.get(f"/channels/{channel}").get_data(as_text=True)
        forms = re.findall(r'name="csrf_token" value="([^"]+)"', html)
        # Start Meeting, Log out and Log out everywhere, and the Manager's member forms.
        assert len(forms) >= 3
        return {csrf_token_of(html), *forms}

    first = tokens_on_page()
    assert len(first) == 1, "one token for the whole page: header, menu and meeting box"
    now[0] += 30
    assert tokens_on_page() == first, "reused within the minute"
    now[0] += 31
    second = tokens_on_page()
    assert len(second) == 1 and second != first, "signed again after a minute"
    # An hour after the first page: its token has expired, the later one still works.
    now[0] += 3600 - 61 + 30
    (old,), (new,) = first, second
    assert posted_with(client, f"/rooms/{room}/start", old).status_code == 400
    assert posted_with(client, f"/rooms/{room}/start", new).status_code == 200


def test_each_browser_session_gets_its_own_token(csrf_app):
    from tests.conftest import World

    world = World(csrf_app)
    world.user("teacher")
    world.user("pupil")
    world.enable()
    channel = world.channel(teacher=ChannelRole.MANAGER, pupil=ChannelRole.MEMBER)
    room = world.room_of(channel)
    teacher, pupil = logged_in(csrf_app, "teacher"), logged_in(csrf_app, "pupil")
    teachers = csrf_token_of(teacher.get(f"/channels/{channel}").get_data(as_text=True))
    pupils = csrf_token_of(pupil.get(f"/channels/{channel}").get_data(as_text=True))
    assert teachers != pupils
    # One session's token is no good in another's.
    assert posted_with(pupil, f"/rooms/{room}/join", teachers).status_code == 400
    assert posted_with(pupil, f"/rooms/{room}/join", pupils).status_code == 200
