"""/metrics: off unless asked for, behind a bearer token (or this machine only), and
counting every request, across gunicorn's workers too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, World, as_user, make_app, open_stream
from tests.sse import StreamReader
from tests.test_request_logs import log_lines
from tests.waiting import wait_until
from tests.workers import Gunicorn

TOKEN = "a-scraper-token-of-enough-length-0123"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
LOGIN_PAGE = {"method": "GET", "endpoint": "auth.login_page", "status": "2xx"}


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in a scrape (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


def login_pages_counted(text: str) -> float:
    return sample(text, "liveroom_http_request_duration_seconds_count", **LOGIN_PAGE)


@pytest.fixture
def metered(tmp_path) -> Iterator[Flask]:
    app = make_app(tmp_path, LIVEROOM_METRICS=True, LIVEROOM_METRICS_TOKEN=TOKEN)
    yield app
    hub_of(app).stop()


def scrape(client: FlaskClient) -> str:
    answer = client.get("/metrics", headers=BEARER)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain"
    return answer.get_data(as_text=True)


def test_metrics_are_off_unless_asked_for(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


def test_a_scrape_without_the_token_or_with_a_wrong_one_is_refused(metered):
    client = metered.test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    almost = TOKEN[:-1] + "4"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {almost}"}).status_code == 403
    assert "liveroom_" not in client.get("/metrics").get_data(as_text=True)


def test_a_scrape_counts_the_requests_made_before_it(metered):
    client = metered.test_client()
    before = login_pages_counted(scrape(client))
    for _ in range(3):
        assert client.get("/login").status_code == 200
    after = scrape(client)
    assert login_pages_counted(after) == before + 3
    # Unknown addresses count under one endpoint, not one series per path.
    client.get("/no/such/page/12345")
    assert 'endpoint="none"' in scrape(client) and "12345" not in scrape(client)
    # Nor one per method a client invents.
    for invented in ("BREW", "WHEN", "XYZZY"):
        client.open("/login", method=invented)
    assert 'method="other"' in scrape(client) and "XYZZY" not in scrape(client)


def test_live_meetings_and_open_streams_are_measured(metered):
    world = World(metered)
    world.user("teacher")
    world.user("sam")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    client = metered.test_client()
    assert sample(scrape(client), "liveroom_live_meetings") == 0
    as_user(metered, "teacher").post(f"/rooms/{room}/start", headers=HTMX)
    sam = as_user(metered, "sam")
    before = sample(scrape(client), "liveroom_open_streams", kind="status")
    response = sam.get(f"/live/rooms/{room}/status?shown=live", buffered=False)
    stream = StreamReader(response.response, on_close=response.close)
    text = scrape(client)
    assert sample(text, "liveroom_live_meetings") == 1
    assert sample(text, "liveroom_open_streams", kind="status") == before + 1
    stream.close()
    assert sample(scrape(client), "liveroom_open_streams", kind="status") == before


def test_events_are_counted_once_stored_and_as_the_hub_sends_them(metered):
    world = World(metered)
    world.user("teacher")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER))
    teacher, client = as_user(metered, "teacher"), metered.test_client()
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    # Opening a stream starts the hub, which then reads every event stored after.
    with metered.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
    stream = open_stream(teacher, room, session_id)
    text = scrape(client)
    stored = sample(text, "liveroom_events_total")
    sent = sample(text, "liveroom_hub_events_dispatched_total")
    teacher.post(f"/rooms/{room}/chat", data={"body": "Hello"}, headers=HTMX)
    assert sample(scrape(client), "liveroom_events_total") == stored + 1
    wait_until(lambda: sample(scrape(client), "liveroom_hub_events_dispatched_total") > sent)
    stream.close()


def test_without_a_token_only_this_machine_may_scrape(tmp_path):
    app = make_app(tmp_path, LIVEROOM_METRICS=True, LIVEROOM_TRUSTED_PROXIES=1)
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 200  # from 127.0.0.1, no proxy
        far = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert far.status_code == 403
        # A proxy on this machine forwards a client: loopback peer, but not this machine.
        for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
            forwarded = client.get("/metrics", headers={header: "127.0.0.1"})
            assert forwarded.status_code == 403, header
    finally:
        hub_of(app).stop()


def test_gunicorn_workers_requests_add_up_in_one_scrape(tmp_path):
    server = Gunicorn(tmp_path, workers=2, LIVEROOM_METRICS_TOKEN=TOKEN)
    try:

        def scraped() -> str:
            answer = requests.get(f"{server.base}/metrics", headers=BEARER, timeout=10)
            assert answer.status_code == 200, answer.text
            return answer.text

        before = login_pages_counted(scraped())
        ids, deadline = set(), time.monotonic() + 30
        # Until both workers have answered some (each connection goes to either).
        while len(ids) < 10 or len(workers_of(server, ids)) < 2:
            assert time.monotonic() < deadline, "one worker answered everything"
            answer = requests.get(f"{server.base}/login", timeout=10)
            ids.add(answer.headers["X-Request-Id"])
        # Whichever worker answers the scrape counts every worker's requests.
        for _ in range(4):
            assert login_pages_counted(scraped()) == before + len(ids)
        assert "liveroom_live_meetings 0.0" in scraped()
    finally:
        server.stop()


def workers_of(server: Gunicorn, ids: set[str]) -> set[int]:
    return {line["pid"] for line in log_lines(server.log()) if line["request_id"] in ids}
