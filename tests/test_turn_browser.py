"""Two real Chromiums connect through the real coturn that ``scripts/ensure-coturn``
starts, every candidate forced through it (``iceTransportPolicy: "relay"``), with the
credentials the app mints; with a wrong secret coturn relays nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.live_server import CHROMIUM, log_in  # noqa: E402
from tests.test_media_browser import (  # noqa: E402
    MEDIA_ARGS,
    MEDIA_DEADLINE,
    enter,
    turn_on_camera_and_microphone,
)
from tests.waiting import wait_until  # noqa: E402
from tests.workers import DEMO_PASSWORDS, Gunicorn  # noqa: E402

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = [pytest.mark.browser, pytest.mark.media_server]

COTURN_SECRET = Path("/tmp/liveroom-coturn/secret")
COTURN_URL = "turn:127.0.0.1:34780?transport=udp"


def coturn_secret() -> str:
    if not COTURN_SECRET.exists():
        pytest.fail("coturn is not running: scripts/ensure-coturn starts it (make test does)")
    return COTURN_SECRET.read_text().strip()


# Per connection of this page: its state, its ICE gathering, its relay candidates, and
# the type of the local candidate of the pair in use.
ICE_STATS = """async () => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room) return null;
  const out = [];
  for (const peer of Object.values(room.backend.peers)) {
    const report = await peer.pc.getStats();
    const rows = {};
    report.forEach(row => { rows[row.id] = row; });
    let relay = 0, selected = null, frames = 0;
    for (const row of Object.values(rows)) {
      if (row.type === "local-candidate" && row.candidateType === "relay") relay += 1;
      if (row.type === "transport" && row.selectedCandidatePairId) {
        const pair = rows[row.selectedCandidatePairId];
        selected = pair && rows[pair.localCandidateId] ? rows[pair.localCandidateId].candidateType : null;
      }
      if (row.type === "inbound-rtp" && row.kind === "video") frames += row.framesDecoded || 0;
    }
    out.push({state: peer.pc.connectionState, gathering: peer.pc.iceGatheringState,
              policy: peer.pc.getConfiguration().iceTransportPolicy, relay, selected, frames});
  }
  return out;
}"""


def through_coturn(tmp_path: Path, secret: str) -> Gunicorn:
    return Gunicorn(
        tmp_path,
        LIVEROOM_TURN_URLS=COTURN_URL,
        LIVEROOM_TURN_SECRET=secret,
        LIVEROOM_ICE_TRANSPORT_POLICY="relay",
    )


@contextmanager
def launched() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def teacher_and_pupil(server: Gunicorn, browser: Browser) -> tuple[Page, Page]:
    teacher = log_in(browser, server.base, "teacher", DEMO_PASSWORDS["teacher"])
    enter(teacher, "Start Meeting")
    pupil = log_in(browser, server.base, "student1", DEMO_PASSWORDS["student1"])
    enter(pupil, "Join Meeting")
    turn_on_camera_and_microphone(teacher)
    return teacher, pupil


def test_a_call_forced_through_coturn_connects_with_minted_credentials(tmp_path):
    server = through_coturn(tmp_path, coturn_secret())
    try:
        with launched() as browser:
            _, pupil = teacher_and_pupil(server, browser)

            def relayed_video():
                peers = pupil.evaluate(ICE_STATS) or []
                return (
                    peers
                    and all(p["state"] == "connected" and p["selected"] == "relay" for p in peers)
                    and all(p["frames"] > 0 for p in peers)
                    and peers
                )

            peers = wait_until(relayed_video, MEDIA_DEADLINE, "no video through coturn")
            assert all(p["policy"] == "relay" for p in peers)
            # An ICE restart (the stream came back, a connection failed) first asks for
            # a credential minted for it, and the call goes on through coturn.
            with pupil.expect_response(lambda r: "/media/ice" in r.url) as asked:
                pupil.evaluate("() => window.LiveroomMedia.current().backend.restart()")
            fresh = asked.value.json()["iceServers"][0]
            assert fresh["urls"] == [COTURN_URL] and fresh["username"].endswith(
                ":" + str(server.scalar('SELECT id FROM "user" WHERE username = :u', u="student1"))
            )
            before = sum(p["frames"] for p in pupil.evaluate(ICE_STATS))
            wait_until(
                lambda: (
                    sum(p["frames"] for p in pupil.evaluate(ICE_STATS)) > before + 10
                    and relayed_video()
                ),
                MEDIA_DEADLINE,
                "the call did not go on through coturn after the restart",
            )
    finally:
        server.stop()


def test_with_a_wrong_secret_coturn_relays_nothing(tmp_path):
    server = through_coturn(tmp_path, "not-coturns-secret")
    try:
        with launched() as browser:
            _, pupil = teacher_and_pupil(server, browser)
            # Once ICE has gathered all it can: coturn refused every allocation, so no
            # relay candidate exists, and with relay only, nothing connects.
            peers = wait_until(
                lambda: [
                    p for p in (pupil.evaluate(ICE_STATS) or []) if p["gathering"] == "complete"
                ],
                MEDIA_DEADLINE,
                "ICE gathering never completed",
            )
            assert all(p["relay"] == 0 and p["frames"] == 0 for p in peers), peers
            assert all(p["state"] != "connected" for p in peers), peers
    finally:
        server.stop()
