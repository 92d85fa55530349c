"""Meetings through the real Janus media server in real browsers: Chromium with its
fake camera and microphone, real gunicorn workers, the two Janus servers that
``scripts/ensure-janus`` starts.

What the browsers receive is read from WebRTC's statistics (``getStats()``), each
row tagged by the page's Janus client (static/js/media/sfu.js) with whose track, and
which, it is."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from liveroom.media.janus import JanusClient, JanusError  # noqa: E402
from liveroom.media.sfu import app_token  # noqa: E402
from tests.live_server import CHROMIUM, log_in  # noqa: E402
from tests.test_janus import SECRET_FILE, Person  # noqa: E402
from tests.test_janus import server as janus_server  # noqa: E402
from tests.test_media_browser import (  # noqa: E402
    MEDIA_ARGS,
    MEDIA_DEADLINE,
    enter,
    turn_on_camera_and_microphone,
)
from tests.test_media_browser import growing as mesh_growing  # noqa: E402
from tests.waiting import wait_until  # noqa: E402
from tests.workers import DEMO_PASSWORDS, Gunicorn  # noqa: E402

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = [pytest.mark.browser, pytest.mark.media_server]

PUPIL_PASSWORD = "liveroom-pupil"

# What this page receives from ``uid``: video frames decoded from their camera, and
# audio energy from their microphone.
RECEIVED = """async (uid) => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room || room.config.backend !== "janus") return null;
  const seen = {camera: 0, audio: 0};
  for (const part of await room.backend.stats()) {
    for (const row of part.rows) {
      if (row.type !== "inbound-rtp" || row.liveroomUid !== uid) continue;
      if (row.liveroomKind === "camera") seen.camera += row.framesDecoded || 0;
      if (row.liveroomKind === "mic") seen.audio += row.totalAudioEnergy || 0;
    }
  }
  return seen;
}"""


def janus_env() -> dict[str, str]:
    if not SECRET_FILE.exists():
        pytest.fail("Janus is not running: scripts/ensure-janus starts it (make test does)")
    return {
        "LIVEROOM_JANUS_URLS": "http://127.0.0.1:8188/janus http://127.0.0.1:8189/janus",
        "LIVEROOM_JANUS_ADMIN_URLS": "http://127.0.0.1:7188/admin http://127.0.0.1:7189/admin",
        "LIVEROOM_JANUS_ADMIN_SECRET": SECRET_FILE.read_text().strip(),
    }


def add_pupils(server: Gunicorn, names: list[str]) -> None:
    for name in names:
        server.add_member(name, PUPIL_PASSWORD)


def teacher_and_sam(browser, server: Gunicorn) -> tuple[Page, Page]:
    """The teacher starts Biology 101's meeting and Sam (student1) joins it."""
    teacher = log_in(browser, server.base, "teacher", DEMO_PASSWORDS["teacher"])
    enter(teacher, "Start Meeting")
    sam = log_in(browser, server.base, "student1", DEMO_PASSWORDS["student1"])
    enter(sam, "Join Meeting")
    return teacher, sam


def receiving(page: Page, uid: int) -> dict:
    return page.evaluate(RECEIVED, uid) or {"camera": 0, "audio": 0}


def growing(page: Page, uid: int, key: str) -> bool:
    before = receiving(page, uid)[key]
    page.wait_for_timeout(700)
    return receiving(page, uid)[key] > before


@pytest.fixture
def server(tmp_path):
    server = Gunicorn(tmp_path, **janus_env())
    yield server
    server.stop()


def test_six_people_receive_the_teachers_video_and_audio_through_janus(server):
    pupils = [f"pupil{n}" for n in range(5)]
    add_pupils(server, pupils)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        try:
            teacher = log_in(browser, server.base, "teacher", DEMO_PASSWORDS["teacher"])
            enter(teacher, "Start Meeting")
            pages = []
            for name in pupils:
                page = log_in(browser, server.base, name, PUPIL_PASSWORD)
                enter(page, "Join Meeting")
                pages.append(page)
            turn_on_camera_and_microphone(teacher)
            teacher_id = int(
                server.scalar('SELECT id FROM "user" WHERE username = :u', u="teacher")
            )
            for name, page in zip(pupils, pages, strict=True):
                assert wait_until(
                    lambda p=page: growing(p, teacher_id, "camera"), MEDIA_DEADLINE
                ), f"{name} receives no video from the teacher"
                assert wait_until(lambda p=page: growing(p, teacher_id, "audio"), MEDIA_DEADLINE), (
                    f"{name} receives no audio from the teacher"
                )
                expect(
                    page.locator(f'.tile[data-uid="{teacher_id}"] video.tile__video')
                ).to_be_visible()
            # The speaking ring follows the teacher's voice (the fake microphone beeps).
            expect(pages[0].locator(f'.tile[data-uid="{teacher_id}"]')).to_have_class(
                re.compile(r"\btile--speaking\b"), timeout=MEDIA_DEADLINE * 1000
            )
            # Janus itself lists the teacher as the one publisher, among six people.
            config = teacher.evaluate("() => window.LiveroomMedia.current().config.janus")
            port = int(config["server"].split(":")[2].split("/")[0])
            janus = JanusClient(janus_server(port), app_token(janus_server(port)))
            people = janus.participants(config["room"])
            assert len(people) == 6
            assert [p["id"] for p in people if p["publisher"]] == [teacher_id]
        finally:
            browser.close()


def test_a_removed_pupil_leaves_janus_and_every_stage_at_once(server):
    add_pupils(server, ["pupil0"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        try:
            teacher = log_in(browser, server.base, "teacher", DEMO_PASSWORDS["teacher"])
            enter(teacher, "Start Meeting")
            pupil = log_in(browser, server.base, "pupil0", PUPIL_PASSWORD)
            enter(pupil, "Join Meeting")
            turn_on_camera_and_microphone(pupil)
            pupil_id = int(server.scalar('SELECT id FROM "user" WHERE username = :u', u="pupil0"))
            assert wait_until(lambda: growing(teacher, pupil_id, "camera"), MEDIA_DEADLINE)
            tile = teacher.locator(f'.tile[data-uid="{pupil_id}"]')
            expect(tile).to_be_visible()
            config = pupil.evaluate("() => window.LiveroomMedia.current().config.janus")
            port = int(config["server"].split(":")[2].split("/")[0])
            janus = JanusClient(janus_server(port), app_token(janus_server(port)))
            assert pupil_id in [p["id"] for p in janus.participants(config["room"])]

            people = teacher.get_by_role("region", name=re.compile("In the room"))
            row = people.get_by_role("listitem").filter(has_text="Pupil0")
            row.locator("summary").click()
            teacher.once("dialog", lambda dialog: dialog.accept())
            row.get_by_role("button", name="Remove from room").click()
            expect(tile).to_have_count(0)
            assert pupil_id not in [p["id"] for p in janus.participants(config["room"])]
            # The page's credential, copied, opens nothing any more.
            assert Person(janus, config["token"]).session()["error"]["code"] == 403
        finally:
            browser.close()


@pytest.fixture
def own_janus(tmp_path):
    """A third Janus, on ports of its own, that this test may stop: a copy of the
    first's configuration (``scripts/ensure-janus``) with its ports moved."""
    source = SECRET_FILE.parent / "8188"
    if not source.exists():
        pytest.fail("Janus is not running: scripts/ensure-janus starts it (make test does)")
    here = tmp_path / "janus"
    here.mkdir()
    for name in ("janus.jcfg", "janus.transport.http.jcfg", "janus.plugin.videoroom.jcfg"):
        text = (source / name).read_text()
        text = text.replace(str(source), str(here)).replace("8188", "8190").replace("7188", "7190")
        text = text.replace("20000-29999", "40000-44999")
        (here / name).write_text(text)
    subprocess.run(
        [
            "janus",
            "--daemon",
            f"--config={here / 'janus.jcfg'}",
            f"--configs-folder={here}",
            f"--log-file={here / 'janus.log'}",
            f"--pid-file={here / 'janus.pid'}",
            "--disable-colors",
        ],
        check=True,
        capture_output=True,
    )
    client = JanusClient(janus_server(8190), "unused")
    wait_until(lambda: _answers(client), 10, "the test's own Janus did not start")
    yield here
    stop_janus(here)


def _answers(client: JanusClient) -> bool:
    try:
        return bool(client.info())
    except JanusError:
        return False


def stop_janus(here: Path) -> None:
    pid_file = here / "janus.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        pid_file.unlink()


def test_with_janus_gone_mid_meeting_the_room_says_so_and_a_small_one_moves_to_the_mesh(
    tmp_path, own_janus
):
    env = janus_env()
    env["LIVEROOM_JANUS_URLS"] = "http://127.0.0.1:8190/janus"
    env["LIVEROOM_JANUS_ADMIN_URLS"] = "http://127.0.0.1:7190/admin"
    server = Gunicorn(tmp_path, **env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
            try:
                teacher, sam = teacher_and_sam(browser, server)
                turn_on_camera_and_microphone(teacher)
                teacher_id = int(
                    server.scalar('SELECT id FROM "user" WHERE username = :u', u="teacher")
                )
                assert wait_until(lambda: growing(sam, teacher_id, "camera"), MEDIA_DEADLINE)

                stop_janus(own_janus)
                expect(sam.locator("[data-media-notice]")).to_contain_text(
                    "Audio and video are unavailable right now", timeout=MEDIA_DEADLINE * 1000
                )
                sam.get_by_role("textbox", name="Message").fill("Is the video gone?")
                sam.keyboard.press("Enter")
                expect(teacher.locator("#chat-log")).to_contain_text("Is the video gone?")

                # A meeting this small moves to the mesh: the pages read their panels
                # again, and the teacher's camera, turned on again, reaches Sam directly.
                wait_until(
                    lambda: (
                        teacher.evaluate("() => window.LiveroomMedia.current()?.config.backend")
                        == "mesh"
                    ),
                    MEDIA_DEADLINE,
                    "the meeting did not move to the mesh",
                )
                turn_on_camera_and_microphone(teacher)
                assert wait_until(
                    lambda: mesh_growing(sam, str(teacher_id), "camera"), MEDIA_DEADLINE
                ), "no video over the mesh after the move"
            finally:
                browser.close()
    finally:
        server.stop()


FORGE_MIC = """async () => {
  // A modified page: it publishes its microphone again, telling the app nothing.
  const room = window.LiveroomMedia.current();
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  room.backend.tracks.mic = stream.getAudioTracks()[0];
  room.backend.sending.mic = true;
  room.backend.negotiate();
  return true;
}"""


def sam_heard_by_the_teacher(browser, server: Gunicorn, key: str) -> tuple[Page, Page, int]:
    """The teacher starts, Sam joins with camera and microphone on, and the teacher
    receives his ``key`` ("camera" or "audio"): (teacher, Sam, Sam's user id)."""
    teacher, sam = teacher_and_sam(browser, server)
    turn_on_camera_and_microphone(sam)
    sam_id = int(server.scalar('SELECT id FROM "user" WHERE username = :u', u="student1"))
    assert wait_until(lambda: growing(teacher, sam_id, key), MEDIA_DEADLINE)
    return teacher, sam, sam_id


def stopped(page: Page, uid: int, key: str) -> bool:
    return not growing(page, uid, key) and not growing(page, uid, key)


def test_a_strong_mute_holds_at_janus_against_a_page_that_keeps_sending(server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        try:
            teacher, sam, sam_id = sam_heard_by_the_teacher(browser, server, "audio")

            teacher.once("dialog", lambda dialog: dialog.accept())
            teacher.get_by_role("button", name="Mute all, no unmuting").click()
            expect(
                sam.get_by_role("button", name="Microphone", exact=True, pressed=False)
            ).to_be_visible()
            assert sam.evaluate(FORGE_MIC)
            # Janus stops his sound itself: nothing reaches the teacher's connection.
            assert wait_until(lambda: stopped(teacher, sam_id, "audio"), MEDIA_DEADLINE)
            config = sam.evaluate("() => window.LiveroomMedia.current().config.janus")
            port = int(config["server"].split(":")[2].split("/")[0])
            janus = JanusClient(janus_server(port), app_token(janus_server(port)))
            (published,) = [p for p in janus.publishers(config["room"]) if p["id"] == sam_id]
            audio = [s for s in published["streams"] if s["type"] == "audio"]
            assert audio and all(s.get("moderated") for s in audio), published

            # Allowed again: his microphone, turned on, is heard.
            teacher.get_by_role("button", name="Allow everyone to unmute").click()
            sam.get_by_role("button", name="Microphone", exact=True, pressed=False).click()
            assert wait_until(lambda: growing(teacher, sam_id, "audio"), MEDIA_DEADLINE)
        finally:
            browser.close()


def test_an_instructor_turns_a_pupils_camera_off_through_janus(server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        try:
            teacher, sam, sam_id = sam_heard_by_the_teacher(browser, server, "camera")
            people = teacher.get_by_role("region", name=re.compile("In the room"))
            row = people.get_by_role("listitem").filter(has_text="Sam Lee")
            row.locator("summary").click()
            row.get_by_role("button", name="Turn camera off").click()
            expect(
                sam.get_by_role("button", name="Camera", exact=True, pressed=False)
            ).to_be_visible()
            expect(sam.locator("[data-media-notice]")).to_have_text(
                "An instructor turned your camera off."
            )
            expect(teacher.locator(f'.tile--camera[data-uid="{sam_id}"]')).to_have_count(0)
            assert wait_until(lambda: stopped(teacher, sam_id, "camera"), MEDIA_DEADLINE)
        finally:
            browser.close()
