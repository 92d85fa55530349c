"""The live room in Spanish and Arabic: the server's words in each person's language,
with counts in the language's plural forms, and the live hub rendering each update
once per language present, so pupils of two languages in one room each read their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import Event, LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, World, as_user, open_stream, text_of

SPANISH = {"Accept-Language": "es"}
ARABIC = {"Accept-Language": "ar"}


class Room:
    """Biology 101: Maria Rivera teaches; Sam Lee, Priya Patel, Leo Late and Ana Ruiz
    are members."""

    def __init__(self, app: Flask, world: World) -> None:
        world.user("teacher", name="Maria Rivera")
        for username, name in (
            ("sam", "Sam Lee"),
            ("priya", "Priya Patel"),
            ("leo", "Leo Late"),
            ("ana", "Ana Ruiz"),
        ):
            world.user(username, name=name)
        world.enable()
        members = {name: ChannelRole.MEMBER for name in ("sam", "priya", "leo", "ana")}
        self.id = world.room_of(world.channel(teacher=ChannelRole.MANAGER, **members))
        self.app = app
        self.teacher = as_user(app, "teacher")
        self.post(self.teacher, "start")
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))

    def post(self, client, action: str, headers: dict | None = None, **data: str):
        return client.post(
            f"/rooms/{self.id}/{action}", data=data, headers={**HTMX, **(headers or {})}
        )

    def join(self, username: str, headers: dict):
        client = as_user(self.app, username)
        return client, self.post(client, "join", headers)


def test_a_pupil_reads_the_room_in_spanish(app: Flask, world: World) -> None:
    room = Room(app, world)
    _sam, panel = room.join("sam", SPANISH)
    page = text_of(panel)
    for words in ("Eres participante", "Levantar la mano", "En la sala", "Manos levantadas"):
        assert words in page
    assert "Raise hand" not in page


def test_a_pupil_reads_the_room_in_arabic(app: Flask, world: World) -> None:
    room = Room(app, world)
    _priya, panel = room.join("priya", ARABIC)
    page = text_of(panel)
    for words in ("أنت مشارك", "رفع اليد", "في الغرفة", "الدردشة"):
        assert words in page
    assert "Raise hand" not in page


def test_the_waiting_room_counts_in_each_languages_plural_forms(app: Flask, world: World) -> None:
    room = Room(app, world)
    room.post(room.teacher, "lock", locked="1")
    waiting = ("sam", "priya", "leo")
    for count, username in enumerate(waiting, start=1):
        room.join(username, SPANISH)
        arabic = text_of(room.teacher.get(f"/rooms/{room.id}", headers=ARABIC))
        spanish = text_of(room.teacher.get(f"/rooms/{room.id}", headers=SPANISH))
        english = text_of(room.teacher.get(f"/rooms/{room.id}"))
        if count == 1:
            assert "شخص واحد ينتظر" in arabic
            assert "1 persona esperando" in spanish
            assert "1 person waiting" in english
        elif count == 2:
            assert "شخصان ينتظران" in arabic  # Arabic's dual
            assert "2 personas esperando" in spanish
            assert "2 people waiting" in english
        else:
            assert "3 أشخاص ينتظرون" in arabic  # Arabic's "few"
            assert "3 personas esperando" in spanish
            assert "3 people waiting" in english
        assert "Sala de espera" in spanish and "غرفة الانتظار" in arabic


def test_a_pupil_waiting_for_the_start_reads_it_in_arabic(app: Flask, world: World) -> None:
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    sam = as_user(app, "sam")
    waiting = sam.post(f"/rooms/{room}/join", headers={**HTMX, **ARABIC})
    assert "في انتظار أن يبدأ المعلّم هذا الاجتماع" in text_of(waiting)


def test_pupils_of_two_languages_each_hear_the_room_in_their_own(app: Flask, world: World) -> None:
    room = Room(app, world)
    sam, _ = room.join("sam", SPANISH)
    ana, _ = room.join("ana", SPANISH)
    priya, _ = room.join("priya", ARABIC)
    streams = {
        "sam": open_stream(sam, room.id, room.session, headers=SPANISH),
        "ana": open_stream(ana, room.id, room.session, headers=SPANISH),
        "priya": open_stream(priya, room.id, room.session, headers=ARABIC),
        "teacher": open_stream(room.teacher, room.id, room.session),
    }
    try:
        # The lists each page gets as its stream opens are in its language already.
        streams["sam"].wait_for_text("(tú)")
        streams["priya"].wait_for_text("(أنت)")

        room.post(room.teacher, "chat/enabled", enabled="0")
        streams["sam"].wait_for_text("El chat de los participantes está desactivado.")
        streams["ana"].wait_for_text("El chat de los participantes está desactivado.")
        streams["priya"].wait_for_text("دردشة المشاركين متوقفة.")
        streams["teacher"].wait_for_text("Participant chat is off.")

        # Leo arrives: the people lists follow, each in its reader's words.
        room.join("leo", SPANISH)
        streams["sam"].wait_for_text("Leo Late se unió.")
        streams["priya"].wait_for_text("انضم Leo Late.")
        streams["teacher"].wait_for_text("Leo Late joined.")
    finally:
        for stream in streams.values():
            stream.close()
    everything = {name: "".join(m.data for m in s.seen) for name, s in streams.items()}
    assert "دردشة" not in everything["sam"] and "desactivado" not in everything["priya"]
    assert "desactivado" not in everything["teacher"]
    # Rendered once per language present, not once per listener: four pages in three
    # languages, three renderings of the switch (the hub keeps them by event and
    # language for reconnecting pages).
    with app.app_context():
        toggled = db.session.scalar(sa.select(Event.id).where(Event.kind == Kind.CHAT_TOGGLED))
    assert sorted(lang for (eid, lang) in hub_of(app).plans if eid == toggled) == [
        "ar",
        "en",
        "es",
    ]
