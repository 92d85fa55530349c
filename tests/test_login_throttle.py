"""Log-in throttling: too many failed log-ins are refused, counted so that a guesser is
stopped while the account's owner elsewhere, and a class behind one address, are not.

Every story runs twice: with the failures counted in the database, and in Redis
(Flask-Limiter's storage) under a key prefix of its own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from liveroom.auth import throttle
from liveroom.cli import DEMO_PASSWORDS
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import RateHit
from tests import databases
from tests.conftest import PASSWORD, World, make_app, text_of

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/12"
CLASSROOM = "198.51.100.20"
HOME = "203.0.113.7"


@pytest.fixture(params=["database", "redis"])
def counted_in(request: pytest.FixtureRequest) -> dict:
    """Where failures are counted: config for make_app (the same for every instance)."""
    if request.param == "database":
        return {}
    return {"LIVEROOM_REDIS_URL": REDIS_URL, "LIVEROOM_LOGIN_KEY_PREFIX": f"test-{uuid.uuid4()}"}


@pytest.fixture
def apps(tmp_path, counted_in):
    """Make app instances on one SQLite file (what gunicorn workers are); cleaned up."""
    made = []

    def make(**config):
        app = make_app(tmp_path, **counted_in, **config)
        made.append(app)
        return app

    yield make
    for app in made:
        limiter = app.extensions.get(throttle.EXTENSION)
        if limiter is not None:
            limiter.storage.reset()  # this test's key prefix only
        hub_of(app).stop()


@pytest.fixture
def app(apps):
    return apps()


@pytest.fixture
def world(app):
    world = World(app)
    world.user("teacher")
    return world


def log_in(app, username: str, password: str, address: str = CLASSROOM, **headers: str):
    """One log-in attempt from ``address``, as a fresh browser."""
    return app.test_client().post(
        "/login",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def fail(app, times: int, username: str = "teacher", address: str = CLASSROOM) -> None:
    for _ in range(times):
        assert log_in(app, username, "wrong password", address).status_code == 401


def assert_refused(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    page = text_of(response)
    assert "Too many failed log-ins from here" in page
    assert "wait 15 minutes before trying again" in page


def test_eleventh_try_at_an_account_is_refused_even_with_the_right_password(app, world):
    fail(app, 10)
    assert_refused(log_in(app, "teacher", PASSWORD))


def test_refusal_is_the_readable_log_in_page(app, world):
    fail(app, 10)
    response = log_in(app, "teacher", "wrong password")
    assert_refused(response)
    assert "Log in to Liveroom" in text_of(response)
    assert 'role="alert"' in response.get_data(as_text=True)


def test_teacher_still_logs_in_from_elsewhere_while_a_pupil_is_refused(app, world):
    fail(app, 10, address=CLASSROOM)
    assert log_in(app, "teacher", PASSWORD, address=HOME).status_code == 302
    assert_refused(log_in(app, "teacher", PASSWORD, address=CLASSROOM))


def test_one_address_trying_many_accounts_is_refused_for_every_account(app, world):
    for n in range(12):
        world.user(f"pupil{n}")
    # 100 failures, never more than 9 for one account.
    for n in range(100):
        assert log_in(app, f"pupil{n % 12}", "wrong password").status_code == 401
    assert_refused(log_in(app, "teacher", PASSWORD))
    assert_refused(log_in(app, "nobody", "x"))
    assert log_in(app, "teacher", PASSWORD, address=HOME).status_code == 302


def test_unknown_usernames_count_too(app, world):
    fail(app, 10, username="no-such-user")
    assert_refused(log_in(app, "no-such-user", "anything"))
    assert log_in(app, "teacher", PASSWORD).status_code == 302


def test_a_class_logging_in_through_one_address_is_never_refused(app, world):
    for n in range(30):
        world.user(f"pupil{n}")
    for n in range(95):  # mistakes, spread over accounts that don't exist
        assert log_in(app, f"typo{n % 12}", "wrong password").status_code == 401
    for n in range(30):
        assert log_in(app, f"pupil{n}", PASSWORD).status_code == 302


def test_logging_in_forgets_that_accounts_failures_from_that_address(app, world):
    fail(app, 9)
    assert log_in(app, "teacher", PASSWORD).status_code == 302
    fail(app, 10)
    assert_refused(log_in(app, "teacher", PASSWORD))


def test_limit_holds_across_two_workers(apps, world):
    first, second = world.app, apps()
    fail(first, 5)
    fail(second, 5)
    assert_refused(log_in(first, "teacher", PASSWORD))
    assert_refused(log_in(second, "teacher", PASSWORD))


def test_simultaneous_guesses_get_at_most_a_few_more_tries_than_the_limit(apps):
    # Each attempt asks again once it holds a hashing turn, and records its failure
    # before giving the turn up: only attempts hashing at that very moment (2 turns
    # per process here) can pass the count together.
    app = apps(LIVEROOM_PASSWORD_CHECKS_AT_ONCE=2)
    World(app).user("teacher")
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: log_in(app, "teacher", "guess").status_code, range(40)))
    assert statuses.count(401) <= 10 + 2 - 1
    assert statuses.count(401) + statuses.count(429) == 40


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(apps):
    app = apps(LIVEROOM_TRUSTED_PROXIES=1)
    World(app).user("teacher")
    proxy = "10.0.0.2"
    for _ in range(10):
        response = log_in(app, "teacher", "wrong", proxy, **{"X-Forwarded-For": CLASSROOM})
        assert response.status_code == 401
    assert_refused(log_in(app, "teacher", PASSWORD, proxy, **{"X-Forwarded-For": CLASSROOM}))
    home = log_in(app, "teacher", PASSWORD, proxy, **{"X-Forwarded-For": HOME})
    assert home.status_code == 302


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(app, world):
    for n in range(10):
        forged = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert log_in(app, "teacher", "wrong", CLASSROOM, **forged).status_code == 401
    assert_refused(log_in(app, "teacher", PASSWORD, CLASSROOM, **{"X-Forwarded-For": HOME}))


def test_ipv6_client_cannot_dodge_the_limit_by_changing_its_address(app, world):
    for n in range(10):
        assert log_in(app, "teacher", "wrong", f"2001:db8:1:2::{n + 1:x}").status_code == 401
    assert_refused(log_in(app, "teacher", PASSWORD, "2001:db8:1:2:ffff::1"))
    assert log_in(app, "teacher", PASSWORD, "2001:db8:1:3::1").status_code == 302


def test_form_mistakes_are_not_counted_as_failures(app, world):
    for _ in range(15):
        response = app.test_client().post(
            "/login", data={"username": "teacher", "password": ""}, environ_base={}
        )
        assert response.status_code == 422
    assert log_in(app, "teacher", PASSWORD).status_code == 302


def test_counts_are_kept_where_configured(app, world, counted_in):
    fail(app, 3)
    with app.app_context():
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(RateHit))
        limiter = app.extensions.get(throttle.EXTENSION)
        prefix = counted_in.get("LIVEROOM_LOGIN_KEY_PREFIX")
        keys = limiter.storage.get_connection().keys(f"{prefix}:*") if limiter else []
    if counted_in:
        assert rows == 0 and len(keys) == 2
    else:
        assert rows == 3 * 2 and limiter is None


def test_failures_are_counted_in_the_database_while_redis_is_down(tmp_path):
    app = make_app(tmp_path, LIVEROOM_REDIS_URL="redis://127.0.0.1:1/0")
    try:
        World(app).user("teacher")
        fail(app, 10)
        assert_refused(log_in(app, "teacher", PASSWORD))
        assert log_in(app, "teacher", PASSWORD, address=HOME).status_code == 302
    finally:
        hub_of(app).stop()


# --- Under real gunicorn: gevent workers, scrypt hashes in the threadpool -------------


@pytest.fixture
def gunicorn(tmp_path):
    """The shipped gunicorn.conf.py (2 gevent workers) on the demo data, behind one
    trusted proxy so each request can say which client it is for."""
    port = free_port()
    env = {
        **os.environ,
        "LIVEROOM_DATABASE_URL": databases.database_url(tmp_path, "gunicorn", empty=True),
        "LIVEROOM_SECRET_KEY": "throttle-test-secret",
        "LIVEROOM_INSTANCE_PATH": str(tmp_path / "instance"),
        "LIVEROOM_ACCESS_LOG": "",
        "LIVEROOM_TRUSTED_PROXIES": "1",
    }
    env.pop("LIVEROOM_REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "flask", "--app", "liveroom", "demo"], env=env, cwd=ROOT, check=True)
    process = subprocess.Popen(
        [bin_dir / "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2"]
        + ["--bind", f"127.0.0.1:{port}", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/login", timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_log_in(base: str, username: str, password: str, address: str) -> requests.Response:
    """A new browser: the log-in page for its form token, then the form."""
    with requests.Session() as browser:
        browser.headers["X-Forwarded-For"] = address
        browser.headers["Connection"] = "close"  # each request may reach either worker
        page = browser.get(f"{base}/login", timeout=30).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return browser.post(
            f"{base}/login",
            data={"username": username, "password": password, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )


def test_gunicorn_workers_refuse_the_eleventh_guess_together(gunicorn):
    for _ in range(10):
        assert browser_log_in(gunicorn, "teacher", "guess", CLASSROOM).status_code == 401
    refused = browser_log_in(gunicorn, "teacher", DEMO_PASSWORDS["teacher"], CLASSROOM)
    assert refused.status_code == 429
    assert "Too many failed log-ins from here" in refused.text
    home = browser_log_in(gunicorn, "teacher", DEMO_PASSWORDS["teacher"], HOME)
    assert home.status_code == 302


def test_sixteen_people_logging_in_at_once_all_get_in(gunicorn):
    def one(n: int) -> int:
        user = "student1" if n % 2 else "student2"
        return browser_log_in(gunicorn, user, DEMO_PASSWORDS[user], f"192.0.2.{n}").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(one, range(16))) == [302] * 16
