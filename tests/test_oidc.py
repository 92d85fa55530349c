"""Signing in with the school's OpenID Connect provider (liveroom/auth/oidc.py).

No mock of the protocol: a real provider (tests/oidc_provider.py, Authlib's server
side, an RS256 key made for this run) runs in a process of its own, and the app talks
to it over HTTP for discovery, the token and the JWKS. The test plays the browser:
the app's redirect to the provider, the provider's consent form, the redirect back.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa

from liveroom.auth.oidc import providers_from_env
from liveroom.extensions import db
from liveroom.models import AuditEntry, SignInIdentity, User
from liveroom.roles import AppRole
from tests.conftest import make_app, text_of
from tests.oidc_provider import OidcProvider
from tests.workers import Gunicorn


@pytest.fixture(scope="module")
def provider():
    idp = OidcProvider()
    yield idp
    idp.stop()


@pytest.fixture
def idp(provider):
    provider.misbehave("")
    yield provider
    provider.misbehave("")


def oidc_app(tmp_path, idp, **extra):
    return make_app(tmp_path, LIVEROOM_OIDC_PROVIDERS=providers_from_env(idp.env(**extra)))


@pytest.fixture
def app(tmp_path, idp):
    return oidc_app(tmp_path, idp)


def start(client, next_page: str | None = None) -> str:
    """Click "Sign in with Test School": the provider's authorize address."""
    query = f"?{urlencode({'next': next_page})}" if next_page else ""
    response = client.get(f"/login/oidc/school{query}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def consent(authorize_url: str, decision: str = "allow", **person: str) -> str:
    """Fill the provider's form: the path and query it sends the browser back to."""
    data = {
        "sub": "pupil-1",
        "name": "Ada Lovelace",
        "email": "ada@school.example",
        "preferred_username": "",
        "role": "",
        **person,
        "decision": decision,
    }
    response = requests.post(authorize_url, data=data, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["Location"])
    return f"{back.path}?{back.query}"


def sign_in(client, next_page: str | None = None, **person: str):
    return client.get(consent(start(client, next_page), **person))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def signed_in_as(client) -> str | None:
    response = client.get("/account")
    if response.status_code != 200:
        return None
    with client.application.app_context():
        return text_of(response)


def test_the_first_sign_in_makes_an_account_with_the_default_role(app, client, world):
    world.settings(defaultApplicationRole="privateOnlyRole")
    response = sign_in(client, next_page="/account", preferred_username="ada.l")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert "Ada Lovelace" in text_of(client.get("/account"))
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert (user.username, user.display_name, user.email) == (
            "ada.l",
            "Ada Lovelace",
            "ada@school.example",
        )
        assert user.role is AppRole.PRIVATE_ONLY
        identity = db.session.scalar(sa.select(SignInIdentity))
        assert (identity.kind, identity.issuer, identity.subject) == (
            "oidc",
            app.config["LIVEROOM_OIDC_PROVIDERS"][0].issuer,
            "pupil-1",
        )


def test_a_returning_person_is_found_by_issuer_and_subject_even_with_a_new_email(app, client):
    sign_in(client)
    client.post("/logout")
    response = sign_in(client, email="ada.lovelace@school.example", name="A. King")
    assert response.status_code == 302
    assert count(app, User) == 1
    assert count(app, SignInIdentity) == 1
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        # The school's directory is the record of the address; the name is the person's.
        assert user.email == "ada.lovelace@school.example"
        assert user.display_name == "Ada Lovelace"
        identity = db.session.scalar(sa.select(SignInIdentity))
        assert identity.last_used_at >= identity.created_at


def test_someone_else_with_the_same_email_is_never_matched(app, client, world):
    world.user("ada", AppRole.ADMIN, name="Ada the Admin")
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "ada").values(email="ada@school.example")
        )
        db.session.commit()
    sign_in(client, sub="stranger-7", preferred_username="ada")
    assert "Ada the Admin" not in text_of(client.get("/account"))
    with app.app_context():
        newcomer = db.session.scalar(
            sa.select(User).join(SignInIdentity, SignInIdentity.user_id == User.id)
        )
        assert newcomer.username == "ada-2"
        assert newcomer.role is AppRole.VIEWER
    assert client.get("/admin/settings").status_code == 403


def test_a_role_claim_maps_to_the_new_accounts_role(tmp_path, idp):
    app = oidc_app(
        tmp_path,
        idp,
        ROLE_CLAIM="role",
        ROLE_MAP="teacher=privateOnlyRole,head=adminRole",
    )
    sign_in(app.test_client(), sub="t1", email="t1@school.example", role="teacher")
    sign_in(app.test_client(), sub="h1", email="h1@school.example", role="head")
    sign_in(app.test_client(), sub="p1", email="p1@school.example", role="pupil")
    with app.app_context():
        roles = dict(
            db.session.execute(
                sa.select(SignInIdentity.subject, User.role).join(
                    User, User.id == SignInIdentity.user_id
                )
            ).all()
        )
    assert roles == {"t1": AppRole.PRIVATE_ONLY, "h1": AppRole.ADMIN, "p1": AppRole.VIEWER}


@pytest.mark.parametrize(
    ("person", "said"),
    [
        ({"email": "ada@gmail.example"}, "You signed in as ada@gmail.example"),
        ({"email": ""}, "did not give a confirmed email address"),
        ({"email_verified": "false"}, "did not give a confirmed email address"),
    ],
)
def test_only_the_allowed_email_domains_get_an_account(tmp_path, idp, person, said):
    app = oidc_app(tmp_path, idp, ALLOWED_DOMAINS="school.example, staff.school.example")
    client = app.test_client()
    response = sign_in(client, **person)
    assert response.status_code == 403
    page = text_of(response)
    assert "Accounts here are for addresses at school.example, staff.school.example" in page
    assert said in page
    assert count(app, User) == 0 and count(app, SignInIdentity) == 0
    assert client.get("/account").status_code == 302  # not signed in
    assert sign_in(client, sub="staff-1", email="bo@Staff.School.example").status_code == 302
    assert count(app, User) == 1


def test_denied_consent_shows_a_clear_page_and_creates_nothing(app, client):
    response = client.get(consent(start(client), decision="deny"))
    assert response.status_code == 403
    assert "You did not allow Liveroom to know who you are at Test School" in text_of(response)
    assert "Sign in with Test School again" in text_of(response)
    assert count(app, User) == 0
    assert client.get("/account").status_code == 302


def test_a_state_that_is_not_this_browsers_is_refused(app, client):
    back = consent(start(client))
    forged = back.replace("state=", "state=x")
    response = client.get(forged)
    assert response.status_code == 400
    assert "started in another browser or tab, or too long ago" in text_of(response)
    without = re.sub(r"&?state=[^&]*", "", back)
    assert client.get(without).status_code == 400
    # Another browser that never started a sign-in cannot finish this one.
    other = app.test_client()
    assert other.get(back).status_code == 400
    assert count(app, User) == 0
    # The browser that started it still can (the forged state did not spend it).
    assert client.get(back).status_code == 302
    assert count(app, User) == 1


def test_a_sign_in_begun_over_an_hour_ago_is_over(app, client):
    back = consent(start(client))
    with client.session_transaction() as session:
        for key in [k for k in session if k.startswith("_state_oidc_school_")]:
            session[key] = {**session[key], "exp": time.time() - 1}
    response = client.get(back)
    assert response.status_code == 400
    assert "or too long ago" in text_of(response)
    assert count(app, User) == 0


def _with_code(back: str, code: str) -> str:
    path, _, query = back.partition("?")
    params = parse_qs(query)
    params["code"] = [code]
    return f"{path}?{urlencode({k: v[0] for k, v in params.items()})}"


def test_a_wrong_or_expired_code_is_refused(app, client, idp):
    response = client.get(_with_code(consent(start(client)), "not-a-code"))
    assert response.status_code == 400
    assert "Test School did not accept this sign-in" in text_of(response)
    idp.misbehave("codes_expire")
    response = client.get(consent(start(client)))
    assert response.status_code == 400
    assert "did not accept this sign-in" in text_of(response)
    assert count(app, User) == 0


def test_a_code_is_used_once(app, idp):
    """A copy of the browser (its cookie and the callback address) replayed after the
    sign-in: the provider refuses the spent code."""
    client = app.test_client()
    back = consent(start(client))
    cookie = client.get_cookie("session").value
    assert client.get(back).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    response = replay.get(back)
    assert response.status_code == 400
    assert "did not accept this sign-in" in text_of(response)
    assert count(app, User) == 1
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("login_session"))) == 1
        )


@pytest.mark.parametrize(
    "mode", ["wrong_aud", "wrong_iss", "expired", "bad_signature", "wrong_nonce", "no_id_token"]
)
def test_an_id_token_that_fails_a_check_is_refused(app, client, idp, mode):
    idp.misbehave(mode)
    response = sign_in(client)
    assert response.status_code == 400
    assert "The answer from Test School could not be verified" in text_of(response)
    assert count(app, User) == 0 and count(app, SignInIdentity) == 0
    assert client.get("/account").status_code == 302
    idp.misbehave("")
    assert sign_in(client).status_code == 302  # and a good one is taken


def test_a_deactivated_account_is_refused(app, client):
    sign_in(client)
    client.post("/logout")
    with app.app_context():
        from liveroom import accounts

        accounts.deactivate(db.session.scalar(sa.select(User)), None)
    response = sign_in(client)
    assert response.status_code == 403
    assert "This account is deactivated" in text_of(response)
    assert client.get("/account").status_code == 302


def test_the_login_page_offers_the_provider_and_the_admin_can_hide_the_password_form(
    app, client, world
):
    page = text_of(client.get("/login?next=/account"))
    assert "Sign in with Test School" in page and "Password" in page
    assert 'href="/login/oidc/school?next=/account"' in client.get("/login?next=/account").get_data(
        as_text=True
    )
    world.settings(hideLocalLogin="true")
    page = text_of(client.get("/login"))
    assert "Sign in with Test School" in page and "Password" not in page
    # The way in when the provider fails.
    assert "Password" in text_of(client.get("/login?local=1"))
    world.user("admin", AppRole.ADMIN)
    response = client.post(
        "/login?local=1", data={"username": "admin", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    # A wrong password still shows the form, with its error.
    other = app.test_client()
    response = other.post("/login", data={"username": "admin", "password": "wrong"})
    assert response.status_code == 401 and "Password" in text_of(response)


def test_the_admin_hides_the_password_form_on_the_settings_page(app, world):
    from tests.conftest import as_user

    world.user("admin", AppRole.ADMIN)
    admin = as_user(app, "admin")
    page = text_of(admin.get("/admin/settings"))
    assert "Show only single sign-on on the log-in page (hideLocalLogin)" in page
    assert "only the buttons of Test School" in page and "/login?local=1" in page
    form = {
        "live_room_enabled": "y",
        "private_room_minimum_role": "privateOnlyRole",
        "default_stage_mode": "everyone",
        "default_application_role": "viewerRole",
        "hide_local_login": "y",
    }
    assert admin.post("/admin/settings", data=form).status_code == 303
    page = text_of(app.test_client().get("/login"))
    assert "Sign in with Test School" in page and "Password" not in page
    assert "hideLocalLogin: false → true" in text_of(admin.get("/admin/settings"))


def test_without_a_provider_the_password_form_always_shows(tmp_path, world):
    plain = make_app(tmp_path / "plain")
    from tests.conftest import World

    World(plain).settings(hideLocalLogin="true")
    page = text_of(plain.test_client().get("/login"))
    assert "Password" in page and "Sign in with" not in page
    assert plain.test_client().get("/login/oidc/school").status_code == 404


def test_a_provider_that_does_not_answer_gets_a_clear_page(tmp_path, idp):
    env = idp.env()
    env["LIVEROOM_OIDC_SCHOOL_ISSUER"] = f"http://127.0.0.1:{_closed_port()}"
    app = make_app(tmp_path, LIVEROOM_OIDC_PROVIDERS=providers_from_env(env))
    response = app.test_client().get("/login/oidc/school")
    assert response.status_code == 502
    assert "Test School is not answering" in text_of(response)


def test_a_discovery_document_for_another_issuer_is_refused(tmp_path, idp):
    env = idp.env()
    env["LIVEROOM_OIDC_SCHOOL_ISSUER"] = idp.issuer.replace("127.0.0.1", "localhost")
    app = make_app(tmp_path, LIVEROOM_OIDC_PROVIDERS=providers_from_env(env))
    response = app.test_client().get("/login/oidc/school")
    assert response.status_code == 502
    assert "Liveroom's settings for Test School do not match what it answers" in text_of(response)


def _closed_port() -> int:
    from tests.oidc_provider import _free_port

    return _free_port()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"LIVEROOM_OIDC_SCHOOL_CLIENT_ID": ""}, "LIVEROOM_OIDC_SCHOOL_CLIENT_ID must be set"),
        ({"LIVEROOM_OIDC_SCHOOL_ISSUER": ""}, "LIVEROOM_OIDC_SCHOOL_ISSUER must be set"),
        (
            {"LIVEROOM_OIDC_SCHOOL_ISSUER": "http://idp.school.example"},
            "LIVEROOM_OIDC_SCHOOL_ISSUER must be the provider's https:// issuer address",
        ),
        ({"LIVEROOM_OIDC_PROVIDERS": "School!"}, "LIVEROOM_OIDC_PROVIDERS must list short names"),
        ({"LIVEROOM_OIDC_SCHOOL_SCOPES": "email"}, "must include openid"),
        (
            {"LIVEROOM_OIDC_SCHOOL_ROLE_MAP": "teacher=viewerRole"},
            "LIVEROOM_OIDC_SCHOOL_ROLE_CLAIM must be set",
        ),
        (
            {"LIVEROOM_OIDC_SCHOOL_ROLE_CLAIM": "role", "LIVEROOM_OIDC_SCHOOL_ROLE_MAP": "x=boss"},
            "LIVEROOM_OIDC_SCHOOL_ROLE_MAP: unknown role 'boss'",
        ),
        ({"LIVEROOM_OIDC_SCHOOL_ALLOWED_DOMAINS": "school"}, "must list domains"),
    ],
)
def test_incomplete_configuration_stops_the_app_with_the_variable_named(
    tmp_path, monkeypatch, idp, change, message
):
    for name, value in {**idp.env(), **change}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_app(tmp_path)


def test_role_maps_may_be_json_for_values_with_commas(idp):
    env = idp.env(ROLE_CLAIM="groups", ROLE_MAP='{"cn=staff,ou=people": "adminRole"}')
    (school,) = providers_from_env(env)
    assert school.role_map == (("cn=staff,ou=people", AppRole.ADMIN),)


def test_export_and_erase_cover_the_sign_in_identities(app, client):
    import json

    sign_in(client, preferred_username="ada")
    runner = app.test_cli_runner()
    exported = json.loads(runner.invoke(args=["people", "export", "ada"]).output)
    (identity,) = exported["sign_in_identities"]
    assert identity["kind"] == "oidc" and identity["subject"] == "pupil-1"
    assert identity["issuer"].startswith("http://127.0.0.1:")
    assert identity["created_at"] and identity["last_used_at"]
    result = runner.invoke(args=["people", "erase", "ada", "--yes"])
    assert result.exit_code == 0, result.output
    assert count(app, SignInIdentity) == 0
    # Signing in there again makes a new account: nothing links it to the erased one.
    assert client.get("/account").status_code == 302
    sign_in(app.test_client(), preferred_username="ada")
    assert count(app, User) == 2


def test_the_admin_sees_a_persons_sign_in_identities_and_no_password_to_reset(app, client, world):
    sign_in(client, preferred_username="ada")
    world.user("admin", AppRole.ADMIN)
    from tests.conftest import as_user

    admin = as_user(app, "admin")
    with app.app_context():
        ada = db.session.scalar(sa.select(User).where(User.username == "ada")).id
    page = text_of(admin.get(f"/admin/users/{ada}"))
    assert "Single sign-on OpenID Connect Issuer http://127.0.0.1:" in page
    assert "Subject pupil-1" in page
    assert "ada signs in through single sign-on: there is no password here." in page
    assert admin.post(f"/admin/users/{ada}/password").status_code == 409
    admin_id = db_id(app, "admin")
    assert "None: this account signs in with its username and password only." in text_of(
        admin.get(f"/admin/users/{admin_id}")
    )
    # Their own Account page has no password to change either.
    account = text_of(client.get("/account"))
    assert "Change password" not in account
    assert "You sign in through your school's single sign-on" in account


def db_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def test_the_creation_is_in_the_audit_log(app, client):
    sign_in(client, preferred_username="ada")
    with app.app_context():
        details = list(db.session.scalars(sa.select(AuditEntry.detail)))
    assert "ada: viewerRole (oidc sign-in)" in details


AT_ONCE = 8


def _callbacks_at_once(server, browsers: list[requests.Session], backs: list[str]) -> list:
    """Each browser follows its provider's redirect back, all at the same moment."""
    barrier = threading.Barrier(len(browsers))
    answers: list = [None] * len(browsers)

    def finish(i: int) -> None:
        barrier.wait(timeout=60)
        answers[i] = browsers[i].get(f"{server.base}{backs[i]}", allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _started(server, **person: str) -> tuple[requests.Session, str]:
    browser = requests.Session()
    response = browser.get(f"{server.base}/login/oidc/school", allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return browser, consent(response.headers["Location"], **person)


def test_first_sign_ins_at_once_on_real_workers_make_one_account(tmp_path, idp):
    """Two tabs, a double click, a class all arriving at once: across two gunicorn
    workers, one person's first sign-ins make one account, and people who share a
    username hint each get their own."""
    server = Gunicorn(tmp_path, **idp.env())
    try:
        started = [_started(server, sub="twin", preferred_username="sam") for _ in range(AT_ONCE)]
        answers = _callbacks_at_once(server, *map(list, zip(*started, strict=True)))
        assert [a.status_code for a in answers] == [302] * AT_ONCE, [a.text for a in answers]
        assert server.scalar("SELECT count(*) FROM sign_in_identity WHERE subject = 'twin'") == 1
        assert server.scalar("SELECT count(*) FROM \"user\" WHERE username LIKE 'sam%'") == 1
        for browser, _ in started:
            page = browser.get(f"{server.base}/account", timeout=30)
            assert page.ok and "Ada Lovelace" in page.text
        started = [
            _started(server, sub=f"pupil-{i}", preferred_username="kim") for i in range(AT_ONCE)
        ]
        answers = _callbacks_at_once(server, *map(list, zip(*started, strict=True)))
        assert [a.status_code for a in answers] == [302] * AT_ONCE, [a.text for a in answers]
        assert server.scalar("SELECT count(*) FROM sign_in_identity") == AT_ONCE + 1
        assert (
            server.scalar(
                "SELECT count(DISTINCT username) FROM \"user\" WHERE username LIKE 'kim%'"
            )
            == AT_ONCE
        )
        assert "Traceback" not in server.log()
    finally:
        server.stop()


@pytest.mark.browser
def test_a_pupil_signs_in_with_the_schools_provider_in_a_real_browser(tmp_path, idp):
    from playwright.sync_api import expect, sync_playwright

    from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, serve

    app = demo_app(tmp_path, LIVEROOM_OIDC_PROVIDERS=providers_from_env(idp.env()))
    with serve(app) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(base_url=base_url).new_page()
            problems: list[str] = []
            # The app's pages break no CSP and miss nothing (the provider's are its own).
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and m.location.get("url", "").startswith(base_url)
                    else None
                ),
            )
            page.goto("/login")
            page.get_by_role("link", name="Sign in with Test School").click()
            expect(page.get_by_role("heading", name="Test School sign-in")).to_be_visible()
            page.get_by_label("Subject").fill("grace-1")
            page.get_by_label("Name", exact=True).fill("Grace Hopper")
            page.get_by_label("Email").fill("grace@school.example")
            page.get_by_role("button", name="Allow").click()
            expect(page.get_by_role("heading", name="My channels")).to_be_visible()
            expect(page.get_by_text("Grace Hopper").first).to_be_visible()
            assert page.url.startswith(base_url)
            assert problems == []
        finally:
            browser.close()
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.display_name == "Grace Hopper"))
        assert user.username == "grace" and user.role is AppRole.VIEWER
