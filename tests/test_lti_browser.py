"""LTI inside a real platform's frame, across sites: the platform (tests/lti_platform.py)
serves its course page over HTTPS as lms.test, the app is app.test, both with a
self-signed certificate made for this run; Chromium maps both names to this machine.
So the app's cookies are third-party cookies in the frame, as in a school's Moodle."""

from __future__ import annotations

import datetime
import html
import ipaddress
import re
import ssl
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from liveroom.extensions import db
from liveroom.models import LtiPlatform
from liveroom.settings import set_setting
from tests.databases import ON_POSTGRES
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app
from tests.lti_platform import ROLE, Platform

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not ON_POSTGRES, reason="browser tests run on PostgreSQL"),
]
DEADLINE_MS = 15_000


def self_signed(folder) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("app.test"),
                    x509.DNSName("lms.test"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def _auto_post(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        f'<!doctype html><form method="post" action="{html.escape(action)}">{inputs}</form>'
        "<script>document.forms[0].submit()</script>"
    )


@pytest.fixture
def sites(tmp_path):
    """(the platform's course page address, stop) with the app and platform running."""
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    app = demo_app(tmp_path / "app", SESSION_COOKIE_SECURE=True)
    app_server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tls)
    app_url = f"https://app.test:{app_server.server_port}"

    platform = Platform().start()  # its key set over plain HTTP on 127.0.0.1
    from http.server import ThreadingHTTPServer

    lms = ThreadingHTTPServer(("127.0.0.1", 0), platform.server.RequestHandlerClass)
    lms.socket = tls.wrap_socket(lms.socket, server_side=True)
    platform.issuer = f"https://lms.test:{lms.server_port}"

    def course(path: str) -> str:
        query = urlsplit(path).query
        return (
            "<!doctype html><title>Biology · Test Moodle</title><h1>Biology</h1>"
            f'<iframe title="Liveroom" src="/start?{query}" width="1100" height="760" '
            'allow="camera; microphone; display-capture"></iframe>'
        )

    def start(path: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        return _auto_post(
            f"{app_url}/lti/login",
            {
                "iss": platform.issuer,
                "login_hint": query["user"],
                "lti_message_hint": query["role"],
                "client_id": platform.client_id,
                "lti_deployment_id": platform.deployment_id,
                "target_link_uri": f"{app_url}/lti/launch",
            },
        )

    def authorize(path: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        token = platform.id_token(
            query["nonce"],
            user=query["login_hint"],
            roles=[ROLE + query["lti_message_hint"]],
            course={"id": "bio", "label": "BIO", "title": "Biology (LMS)"},
        )
        return _auto_post(query["redirect_uri"], {"id_token": token, "state": query["state"]})

    platform.pages.update({"/course": course, "/start": start, "/mod/lti/auth.php": authorize})
    for server in (app_server, lms):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with app.app_context():
        set_setting("liveRoomEnabled", "true")
        db.session.add(LtiPlatform(**platform.registration()))
        db.session.commit()
    yield f"{platform.issuer}/course"
    for server in (app_server, lms):
        server.shutdown()
    platform.stop()


@pytest.fixture
def browser():
    args = [
        *CHROMIUM_ARGS,
        "--host-resolver-rules=MAP app.test 127.0.0.1, MAP lms.test 127.0.0.1",
        "--ignore-certificate-errors",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def test_instructor_starts_the_meeting_in_the_frame_and_a_learner_joins(browser, sites):
    teacher = browser.new_context(ignore_https_errors=True).new_page()
    teacher.goto(sites + "?" + urlencode({"user": "teacher", "role": "Instructor"}))
    room = teacher.frame_locator("iframe[title=Liveroom]")
    expect(room.get_by_role("heading", name="Biology (LMS)")).to_be_visible(timeout=DEADLINE_MS)
    room.get_by_role("button", name="Start Meeting").click()
    expect(room.get_by_text("You are an instructor")).to_be_visible(timeout=DEADLINE_MS)

    pupil = browser.new_context(ignore_https_errors=True).new_page()
    pupil.goto(sites + "?" + urlencode({"user": "pupil", "role": "Learner"}))
    pupil_room = pupil.frame_locator("iframe[title=Liveroom]")
    pupil_room.get_by_role("button", name="Join Meeting").click()
    expect(pupil_room.get_by_text("You are a participant")).to_be_visible(timeout=DEADLINE_MS)

    # The teacher's panel hears of the pupil through its event stream, in the frame.
    people = room.get_by_role("region", name=re.compile("In the room"))
    expect(people.get_by_role("listitem").filter(has_text="Pupil")).to_be_visible(
        timeout=DEADLINE_MS
    )
