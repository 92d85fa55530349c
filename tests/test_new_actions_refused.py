"""This batch's new actions, tried by the wrong people: a participant, an outsider,
someone just removed, someone signed out, after the meeting ended, and twice at once.
Each gets a clear refusal or one outcome, never a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from liveroom.extensions import db
from liveroom.models import User
from tests.conftest import as_user, text_of
from tests.test_captions import captioner, captions_stored, name_captioner, room  # noqa: F401


def test_someone_just_removed_can_neither_write_captions_nor_stop_them(room):  # noqa: F811
    assert name_captioner(room, room.teacher, "sam").status_code in (200, 204)
    assert room.post(room.teacher, f"people/{room.participation('sam')}/remove").status_code == 204
    refused = room.post(room.sam, "captions", body="still here?")
    assert refused.status_code in (403, 409) and text_of(refused)
    refused = room.post(room.sam, "captions/stop")
    assert refused.status_code in (403, 409) and text_of(refused)
    assert captions_stored(room) == []


def test_an_outsider_cannot_name_a_captioner_or_stop_captions(room):  # noqa: F811
    name_captioner(room, room.teacher, "sam")
    refused = name_captioner(room, room.late, "priya")
    assert refused.status_code == 403 and text_of(refused)
    refused = room.post(room.priya, "captions/stop")
    assert refused.status_code == 403 and text_of(refused)
    assert captioner(room) == "sam"


def test_after_the_meeting_ends_no_caption_is_written(room):  # noqa: F811
    name_captioner(room, room.teacher, "sam")
    assert room.post(room.teacher, "end").status_code < 400
    refused = room.post(room.sam, "captions", body="too late")
    assert 400 <= refused.status_code < 500 and text_of(refused)
    assert captions_stored(room) == []


def test_two_captioner_namings_and_two_lines_at_once_give_one_outcome_each(room):  # noqa: F811
    clients = [as_user(room.app, "teacher") for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda c: name_captioner(room, c, "sam"), clients))
    assert all(answer.status_code < 500 for answer in answers)
    assert captioner(room) == "sam"


@pytest.mark.parametrize(
    "path, data",
    [
        ("/account/language", {"locale": "es"}),
        ("/account/live-room", {"shortcuts_on": "y"}),
        ("/account/shortcuts", {"on": "0"}),
    ],
)
def test_signed_out_people_are_sent_to_log_in(client, path, data):
    answer = client.post(path, data=data)
    assert answer.status_code in (302, 401, 403)
    assert answer.status_code != 302 or "/login" in answer.headers["Location"]


def test_the_lti_admin_pages_are_for_admins_only(app, world):
    world.user("sam")
    sam = as_user(app, "sam")
    assert sam.get("/admin/lti").status_code == 403
    refused = sam.post("/admin/lti/platforms", data={"issuer": "https://lms.example"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_an_unknown_language_is_refused_and_the_saved_one_kept(app, world):
    world.user("sam")
    sam = as_user(app, "sam")
    refused = sam.post("/account/language", data={"locale": "xx"})
    assert refused.status_code in (400, 422) and text_of(refused)
    with app.app_context():
        assert db.session.query(User).filter_by(username="sam").one().locale is None
