"""How long the attendance page and its two CSV files take for a big meeting.

A meeting of N people, each with S stays (reloads, dropped connections), written
straight to a fresh SQLite database; the teacher's requests go through the real app
(test client: no network). Prints the median of a few runs of each request.

    .venv/bin/python bench/attendance_bench.py                 # 1,000 people x 4 stays
    .venv/bin/python bench/attendance_bench.py --people 200 --stays 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from liveroom.extensions import db  # noqa: E402
from liveroom.models import Channel, LiveSession, Membership, Participation, User  # noqa: E402
from liveroom.roles import ChannelRole, RoomRole  # noqa: E402
from liveroom.rooms import meetings  # noqa: E402
from liveroom.settings import set_setting  # noqa: E402
from tests.conftest import FAST_HASH, PASSWORD, make_app  # noqa: E402


def build(app, people: int, stays: int) -> tuple[str, int]:
    start = datetime(2026, 11, 28, 9, 0)
    with app.app_context():
        set_setting("liveRoomEnabled", "true")
        teacher = User(username="teacher", display_name="Maria Rivera", password_hash=FAST_HASH)
        channel = Channel(name="Biology 101")
        db.session.add_all([teacher, channel])
        db.session.flush()
        db.session.add(Membership(channel=channel, user=teacher, role=ChannelRole.MANAGER))
        room = meetings.channel_room(channel)
        session = LiveSession(
            room_id=room.id,
            started_by_id=teacher.id,
            started_at=start,
            ended_at=start + timedelta(minutes=60),
        )
        db.session.add(session)
        db.session.flush()
        pupils = [
            {"username": f"pupil{n}", "display_name": f"Pupil {n}", "password_hash": FAST_HASH}
            for n in range(people)
        ]
        db.session.execute(sa.insert(User), pupils)
        ids = db.session.scalars(sa.select(User.id).where(User.username != "teacher")).all()
        rows = []
        for user_id in ids:
            for s in range(stays):
                joined = start + timedelta(minutes=s * 15 + user_id % 7)
                rows.append(
                    {
                        "session_id": session.id,
                        "user_id": user_id,
                        "room_role": RoomRole.PARTICIPANT,
                        "joined_at": joined,
                        "last_seen_at": joined,
                        "left_at": joined + timedelta(minutes=10),
                    }
                )
        db.session.execute(sa.insert(Participation), rows)
        db.session.commit()
        return room.public_id, session.id


def median_ms(client, url: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--stays", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        room, session = build(app, args.people, args.stays)
        client = app.test_client()
        client.post("/login", data={"username": "teacher", "password": PASSWORD})
        base = f"/rooms/{room}/sessions/{session}"
        print(f"{args.people} people x {args.stays} stays, median of {args.runs} runs")
        for name, url in [
            ("attendance page", f"{base}/attendance"),
            ("summary CSV", f"{base}/attendance-summary.csv"),
            ("every stay CSV", f"{base}/attendance.csv"),
        ]:
            print(f"  {name:<16} {median_ms(client, url, args.runs):8.1f} ms")


if __name__ == "__main__":
    main()
