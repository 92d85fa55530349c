import pytest
import sqlalchemy as sa

from liveroom import ratelimit
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import RateHit, User, utcnow
from tests.conftest import text_of


def test_login_page_asks_for_username_and_password(client):
    page = text_of(client.get("/login"))
    assert "Log in to Liveroom" in page
    assert "Username" in page and "Password" in page


def test_teacher_logs_in_and_lands_on_channels(world, auth, client):
    world.user("teacher")
    response = auth.login("teacher")
    assert response.status_code == 302
    assert response.headers["Location"] == "/channels/"
    assert "My channels" in text_of(client.get("/channels/"))


@pytest.mark.parametrize("username, password", [("teacher", "wrong password"), ("nobody", "x")])
def test_wrong_login_says_so_without_saying_which_part(world, auth, username, password):
    world.user("teacher")
    response = auth.login(username, password)
    assert response.status_code == 401
    assert "That username and password don't match" in text_of(response)


@pytest.mark.parametrize(
    "field, message", [("username", "Enter your username."), ("password", "Enter your password.")]
)
def test_login_form_names_the_missing_field(client, field, message):
    data = {"username": "teacher", "password": "secret"}
    data[field] = ""
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert message in text_of(response)


def test_login_returns_to_the_page_asked_for(world, client):
    world.user("teacher")
    response = client.post(
        "/login?next=/channels/", data={"username": "teacher", "password": "correct horse battery"}
    )
    assert response.headers["Location"] == "/channels/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\\\evil.example", "javascript:x"]
)
def test_login_never_redirects_off_site(world, client, target):
    world.user("teacher")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "teacher", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/channels/"


def test_pages_need_a_login(client):
    response = client.get("/channels/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_htmx_request_without_login_redirects_the_whole_tab(client):
    response = client.get("/channels/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_logout_is_a_post_and_ends_the_session(world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    assert client.get("/logout").status_code == 405
    auth.logout()
    assert client.get("/channels/").status_code == 302


def test_passwords_are_stored_with_a_strong_hash(app, runner):
    runner.invoke(args=["users", "create", "teacher", "--password", "correct horse battery"])
    with app.app_context():
        stored = db.session.scalar(db.select(User.password_hash))
    assert "correct horse" not in stored
    assert stored.startswith("scrypt:")


@pytest.mark.parametrize(
    "target", ["/\r\nX", "/%0D%0AX", "/tab\there", "/a%00b", "/%7F", "/\x1b[31m"]
)
def test_login_ignores_a_next_with_control_characters(world, client, target):
    world.user("teacher")
    assert client.get("/login", query_string={"next": target}).status_code == 200
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "teacher", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/channels/"


def test_login_page_with_a_header_splitting_next_shows_the_form(client):
    response = client.get("/login?next=/%0D%0AX")
    assert response.status_code == 200
    assert "Log in to Liveroom" in text_of(response)


def test_signed_in_visit_with_a_header_splitting_next_goes_to_channels(world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    response = client.get("/login?next=/%0D%0AX")
    assert response.status_code == 302
    assert response.headers["Location"] == "/channels/"


def test_login_keeps_a_next_with_its_own_query(world, client):
    world.user("teacher")
    response = client.post(
        "/login?next=/channels/%3Fq%3Dbio",
        data={"username": "teacher", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/channels/?q=bio"


def test_failed_log_ins_older_than_every_limit_are_forgotten_by_the_upkeep(app, world, auth):
    world.user("teacher")
    auth.login("teacher", "wrong password")
    with app.app_context():
        db.session.add(RateHit(bucket="login-ip:203.0.113.5", at=utcnow() - 2 * ratelimit.KEEP))
        db.session.commit()
    hub = hub_of(app)
    hub.next_forget = 0.0  # its once-a-minute tidy is due
    hub.sweep()  # the upkeep's sweep, which one worker at a time runs every 5 s
    with app.app_context():
        buckets = db.session.scalars(sa.select(RateHit.bucket)).all()
    # Today's failure still counts; the one from two hours ago is gone.
    assert buckets
    assert "login-ip:203.0.113.5" not in buckets
