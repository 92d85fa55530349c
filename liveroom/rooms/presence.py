"""Who is in a meeting now: present stays, and the upkeep that notices people leaving.

A person is present while a stay (``Participation``) is open. Open streams refresh
``last_seen_at``; a closed stream marks ``goodbye_at``; the sweep closes stays whose
page stopped answering. This sits below the meetings module, which enters and leaves
through these lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from liveroom import events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, User, utcnow
from liveroom.roles import RoomRole
from liveroom.rooms import captions

# After the browser says goodbye, how long a reload has to come back before the
# person counts as gone.
GOODBYE_GRACE = timedelta(seconds=5)


def presence_of(session: LiveSession, user: User) -> Participation | None:
    """The user's current stay in a session, if they are in it."""
    return db.session.scalar(
        sa.select(Participation).where(
            Participation.session_id == session.id,
            Participation.user_id == user.id,
            Participation.left_at.is_(None),
        )
    )


def latest_stay(session: LiveSession, user_id: int) -> Participation | None:
    """The person's most recent stay in this session, present or not."""
    return db.session.scalar(
        sa.select(Participation)
        .where(Participation.session_id == session.id, Participation.user_id == user_id)
        .order_by(Participation.id.desc())
        .limit(1)
    )


# Above this many people present, lists show the people near the top (see
# ``people_present``) and the count, with everyone a click away: a join then renders
# a few dozen names, not the whole room.
LARGE_ROOM = 60
TOP_OF_LARGE_ROOM = 50


@dataclass(frozen=True, slots=True)
class Someone:
    """Who a person in a people list is: what the list shows of them."""

    id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class PersonShown:
    """One stay as a people list shows it: plain values read in one statement, not a
    loaded ``Participation`` (a room of 1,000 lists 50 of them on every join and every
    list update, and loading them into the ORM was most of that work). Frozen and
    hashable: it is itself the key of its drawing (``pages.PersonRows``). It answers
    the attributes the lists, the policy's menus and the media roster read."""

    id: int
    user_id: int
    room_role: RoomRole
    promoted: bool
    hand_raised_at: datetime | None
    mic_on: bool
    camera_on: bool
    screen_on: bool
    strong_muted: bool
    on_stage: bool
    may_share: bool
    user: Someone


_SHOWN_COLUMNS = (
    Participation.id,
    Participation.user_id,
    # As stored ("instructor"), turned into its RoomRole by one dictionary look-up:
    # fifty rows on every join and every list update.
    sa.type_coerce(Participation.room_role, sa.String),
    Participation.promoted,
    Participation.hand_raised_at,
    Participation.mic_on,
    Participation.camera_on,
    Participation.screen_on,
    Participation.strong_muted,
    Participation.on_stage,
    Participation.may_share,
    User.display_name,
)


_ROOM_ROLES = {role.value: role for role in RoomRole}


def _shown(row: Sequence) -> PersonShown:
    """A person from the values of ``_SHOWN_COLUMNS``."""
    stay_id, user_id, role, *rest, name = row
    return PersonShown(stay_id, user_id, _ROOM_ROLES[role], *rest, user=Someone(user_id, name))


def _people_in_order() -> sa.Select:
    return (
        sa.select(*_SHOWN_COLUMNS)
        .join(User, Participation.user_id == User.id)
        .where(
            Participation.session_id == sa.bindparam("session_id"),
            Participation.left_at.is_(None),
        )
        # The expressions of the index ix_participation_list_order, written as it is
        # (a literal, not a bound value), so the database reads the top from it.
        .order_by(
            sa.text(f"(participation.room_role != '{RoomRole.INSTRUCTOR.value}')"),
            sa.text("(participation.hand_raised_at IS NULL)"),
            Participation.hand_raised_at,
            Participation.sort_name,
            Participation.id,
        )
    )


# Built once: the whole list is asked for on demand, and building it cost about as
# much as running it.
_EVERYONE_PRESENT = _people_in_order()


def people_present(session: LiveSession) -> list[PersonShown]:
    """Who is in the room, in the list's order: instructors first, then raised hands
    (first up first), then everyone else by name. Sorted by the database, read from
    the list's index, whose top is what ``people_shown`` reads of a large room."""
    rows = db.session.connection().execute(_EVERYONE_PRESENT, {"session_id": session.id})
    return [_shown(row) for row in rows]


@dataclass(frozen=True)
class PeopleShown:
    """What a people list shows: everyone in a small room; in a large one the people
    near the top, with the counts that say how many more there are."""

    people: list[PersonShown]
    count: int
    hands_count: int

    @property
    def large(self) -> bool:
        return len(self.people) < self.count

    @property
    def hands_among(self) -> list[PersonShown] | None:
        """The raised hands in the order they went up, when every one of them is among
        the people shown (always in a small room; in a large one while hands are
        fewer than the people listed): the hands list then needs no query of its own.
        None when some are not shown."""
        raised = [person for person in self.people if person.hand_raised_at is not None]
        if len(raised) < self.hands_count:
            return None
        return sorted(raised, key=lambda person: (person.hand_raised_at, person.id))


def _shown_with_counts() -> sa.Select:
    """What a people list shows, in one statement: everyone present in a room of up to
    ``LARGE_ROOM``, else the ``TOP_OF_LARGE_ROOM`` at the top, each row with the counts
    of everyone present and of the raised hands. The counts are worked out once (a
    common table expression, in the list's own snapshot) and decide the limit, so the
    list is still read from its index's top: no join in the list's FROM, and no
    constant limit to tempt PostgreSQL's planner into sorting everyone present when
    it underestimates how many they are."""
    counted = sa.alias(Participation.__table__, "counted")
    counts = (
        sa.select(
            sa.func.count().label("present"),
            sa.func.count(counted.c.hand_raised_at).label("hands"),
        )
        .where(counted.c.session_id == sa.bindparam("session_id"), counted.c.left_at.is_(None))
        .cte("counts")
    )
    shown = sa.case((counts.c.present > LARGE_ROOM, TOP_OF_LARGE_ROOM), else_=LARGE_ROOM)
    return (
        _people_in_order()
        .add_columns(
            sa.select(counts.c.present).scalar_subquery().label("present"),
            sa.select(counts.c.hands).scalar_subquery().label("hands"),
        )
        .limit(sa.select(shown).scalar_subquery())
    )


# Built once, as the lists' are.
_SHOWN_WITH_COUNTS = _shown_with_counts()


def people_shown(session: LiveSession) -> PeopleShown:
    """The room panel's people list: everyone in a room of up to ``LARGE_ROOM``, else
    the ``TOP_OF_LARGE_ROOM`` people at the top, with the counts: one query, and a few
    dozen people at most, however many are present."""
    rows = db.session.connection().execute(_SHOWN_WITH_COUNTS, {"session_id": session.id}).all()
    if not rows:
        return PeopleShown([], 0, 0)
    count, hands = rows[0][-2:]
    return PeopleShown([_shown(row[:-2]) for row in rows], count, hands)


def keep_present(participation_ids: list[int], commit: bool = True) -> None:
    """One write for every open stream of a process: these people are still here.

    A stay another transaction is writing right now (a Leave, the end of the meeting)
    is skipped this time on PostgreSQL rather than waited for: the refresh comes
    again in seconds, and a bulk update that waits on rows can deadlock with another.
    """
    if not participation_ids:
        return
    busy_skipped = (
        sa.select(Participation.id)
        .where(Participation.id.in_(participation_ids))
        .with_for_update(skip_locked=True)
    )
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(busy_skipped), Participation.left_at.is_(None))
        .values(last_seen_at=utcnow(), goodbye_at=None)
        .execution_options(synchronize_session=False)
    )
    if commit:
        db.session.commit()


def say_goodbye_to(participation_ids: list[int]) -> None:
    """Streams closed: unless one comes back within seconds, their people have left.
    (One write for all the streams a process saw close since its last upkeep.)"""
    if not participation_ids:
        return
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(participation_ids), Participation.left_at.is_(None))
        .values(goodbye_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def sweep_absent(timeout_seconds: int) -> int:
    """Close the stays, in every live meeting, of people whose page stopped answering.
    Returns how many left. Three statements however many meetings and people there
    are: find them, close them, log one "left" event each.

    The close is conditional (still open, still gone), so a stay closed meanwhile by
    Leave, or kept by a stream that came back, is left alone, and the "left" events
    are written for exactly the stays this update closed (``RETURNING``).
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=timeout_seconds)
    gone_now = sa.and_(
        Participation.left_at.is_(None),
        sa.or_(
            Participation.last_seen_at < cutoff,
            Participation.goodbye_at < now - GOODBYE_GRACE,
        ),
    )
    room_of = dict(
        db.session.execute(
            sa.select(Participation.id, LiveSession.room_id)
            .join(LiveSession, LiveSession.id == Participation.session_id)
            .where(LiveSession.ended_at.is_(None), gone_now)
        ).all()
    )
    if not room_of:
        return 0
    closed = db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(room_of), gone_now)
        .values(
            left_at=sa.func.coalesce(Participation.goodbye_at, Participation.last_seen_at),
            hand_raised_at=None,
        )
        .returning(Participation.id, Participation.user_id, Participation.session_id)
        .execution_options(synchronize_session=False)
    ).all()
    events.append_many(
        [
            {
                "room_id": room_of[stay_id],
                "kind": Kind.PARTICIPANT_LEFT,
                "session_id": session_id,
                "data": {"user_id": user_id, "participation_id": stay_id, "reason": "timeout"},
            }
            for stay_id, user_id, session_id in closed
        ]
    )
    captions.stop_for_closed_stays([(session_id, user_id) for _stay, user_id, session_id in closed])
    db.session.commit()
    return len(closed)
