"""Channels: the list, and a channel's page with its meeting button and members."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, render_template
from flask_babel import gettext, ngettext

from liveroom.auth.sessions import signed_in_user
from liveroom.channels import bp, policy
from liveroom.extensions import db
from liveroom.models import Channel, LiveSession, Membership, Room, User
from liveroom.params import int_arg
from liveroom.roles import ChannelRole
from liveroom.rooms.pages import attendance_visible, drawn_button_box, meeting_state_with

ROLE_ORDER = {role: rank for rank, role in enumerate(ChannelRole)}


# Channel cards per page of the list: a school's admin sees hundreds of channels.
PER_PAGE = 50


class ChannelCard(NamedTuple):
    """One channel as the list shows it: what it is, my role in it, whether it is live.
    A named tuple: built, hashed and compared (as the key of its drawing) in C, where a
    frozen dataclass did each in Python, fifty cards a page."""

    id: int
    name: str
    description: str
    role: ChannelRole | None
    live: bool
    archived: bool = False


@dataclass(frozen=True)
class ListPage:
    """One page of the channel list, and where the others are."""

    cards: tuple[ChannelCard, ...]
    number: int
    pages: int
    total: int

    @property
    def first_shown(self) -> int:
        return (self.number - 1) * PER_PAGE + 1

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.cards) - 1

    @property
    def numbers(self) -> list[int | None]:
        """The page numbers to link: the first, the last and two either side of this
        one, None where some are skipped, so the links stay few however many pages."""
        near = {1, self.pages, *range(self.number - 2, self.number + 3)}
        shown = sorted(n for n in near if 1 <= n <= self.pages)
        numbers: list[int | None] = []
        for n in shown:
            if numbers and n - numbers[-1] > 1:
                numbers.append(None)
            numbers.append(n)
        return numbers


def _list_statements(every_channel: bool) -> tuple[sa.Select, sa.Select]:
    """The channel list's two statements, with the user, the page size and the offset
    as parameters, over every channel (an admin's list) or over the user's own: one
    page of cards, each with how many channels are shown in all (SQLite works out that
    uncorrelated count once per statement, and one statement costs less than two), and
    the count alone, for a page past the end, which has no card to carry it."""
    live = (
        sa.exists()
        .where(
            Room.channel_id == Channel.id,
            LiveSession.room_id == Room.id,
            LiveSession.ended_at.is_(None),
        )
        .label("live")
    )
    mine = sa.and_(
        Membership.channel_id == Channel.id, Membership.user_id == sa.bindparam("user_id")
    )
    if every_channel:
        shown = sa.select(sa.func.count(Channel.id))
    else:
        shown = sa.select(sa.func.count(Channel.id)).join(Membership, mine)
    cards = sa.select(
        Channel.id,
        Channel.name,
        Channel.description,
        sa.type_coerce(Membership.role, sa.String).label("role"),
        live,
        shown.scalar_subquery().label("total"),
        Channel.archived_at.is_not(None).label("archived"),
    ).join(Membership, mine, isouter=every_channel)
    # Archived channels come last, marked: a teacher looks for this term's first.
    cards = (
        cards.order_by(Channel.archived_at.is_not(None), Channel.name, Channel.id)
        .limit(sa.bindparam("per_page"))
        .offset(sa.bindparam("offset"))
    )
    return shown, cards


# Built once, not per request: building them cost more than running them.
LIST_STATEMENTS = {every: _list_statements(every) for every in (False, True)}


def channel_cards(user: User, page: int) -> ListPage:
    """The page of channels ``user`` sees, with their role and live state, in one
    query whatever the number of channels: the page's cards with the user's membership,
    a live meeting and the count of all the channels shown looked up in the same
    statement (a page past the end, with no card, asks for the count alone)."""
    count, cards = LIST_STATEMENTS[policy.lists_all_channels(user)]
    # Run on the session's connection: plain rows need none of the ORM's handling of
    # a result, which cost half as much again as the statement itself.
    connection = db.session.connection()
    rows = connection.execute(
        cards, {"user_id": user.id, "per_page": PER_PAGE, "offset": (page - 1) * PER_PAGE}
    ).all()
    total = rows[0].total if rows else connection.scalar(count, {"user_id": user.id})
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        abort(
            404,
            ngettext(
                "The channel list has %(num)d page.", "The channel list has %(num)d pages.", pages
            ),
        )
    # My role in a channel follows from my membership's role there (as stored: its
    # key): asked of the policy once per kind of membership rather than once per card.
    role_for = tuple(
        (role and role.value, policy.role_from(user, role)) for role in (None, *ChannelRole)
    )
    return ListPage(
        cards=cards_of(tuple(map(tuple, rows)), role_for),
        number=page,
        pages=pages,
        total=total,
    )


@lru_cache(maxsize=1024)
def cards_of(
    rows: tuple[tuple, ...], role_for: tuple[tuple[str | None, ChannelRole | None], ...]
) -> tuple[ChannelCard, ...]:
    """The cards of the list's ``rows`` (id, name, description, stored role, live,
    total, archived), with my role for each stored one as ``role_for`` says.

    Kept for the exact rows read and roles: a page of the list that did not change
    is not built again, and the same tuple each time makes its drawing's key compare
    at once. A renamed channel or a meeting going live is other rows, other cards."""
    roles = dict(role_for)
    return tuple(
        ChannelCard(channel_id, name, description, roles[role], live, bool(archived))
        for channel_id, name, description, role, live, _, archived in rows
    )


@bp.get("/")
def index() -> str:
    page = channel_cards(signed_in_user(), max(1, int_arg("page", 1)))
    return render_template("channels/index.html", page=page)


# Built once, as the list's are. The channel with its room, the room's live meeting
# (if one is) and the role my membership gives me: what the page's rules and its
# meeting box ask first, in one statement rather than three.
CHANNEL_PAGE = (
    sa.select(Channel, LiveSession, Membership.role)
    .outerjoin(Channel.room)
    .outerjoin(LiveSession, sa.and_(LiveSession.room_id == Room.id, LiveSession.ended_at.is_(None)))
    .outerjoin(
        Membership,
        sa.and_(Membership.channel_id == Channel.id, Membership.user_id == sa.bindparam("user_id")),
    )
    .where(Channel.id == sa.bindparam("channel_id"))
    .options(so.contains_eager(Channel.room))
)
# Names and roles only: the list shows nothing else, and plain rows cost far less than
# a membership and a user object per member. The role as stored (its key, "manager"),
# so the rows are plain strings, hashed in C as the key of their order below.
MEMBERS = (
    sa.select(User.display_name, sa.type_coerce(Membership.role, sa.String))
    .join(Membership, Membership.user_id == User.id)
    .where(Membership.channel_id == sa.bindparam("channel_id"))
)


class Member(NamedTuple):
    """One member as the channel page lists them: their name and role there."""

    display_name: str
    role: ChannelRole


@lru_cache(maxsize=1024)
def members_in_order(rows: tuple[tuple[str, str], ...]) -> tuple[Member, ...]:
    """The members read as ``rows`` (name, stored role), by role (managers first), then
    by name.

    Kept for the exact rows read: a channel whose members did not change is listed
    without sorting it again, and the same tuple each time makes its drawing's key
    compare at once. A renamed member or a changed role is other rows, a new order."""
    members = [Member(name, ChannelRole(role)) for name, role in rows]
    members.sort(key=lambda m: (ROLE_ORDER[m.role], m.display_name.casefold()))
    return tuple(members)


def channel_members(channel_id: int) -> tuple[Member, ...]:
    # Plain rows, on the session's connection: the ORM's handling of a result would
    # cost more than the statement.
    rows = db.session.connection().execute(MEMBERS, {"channel_id": channel_id}).all()
    return members_in_order(tuple(map(tuple, rows)))


@bp.get("/<id:channel_id>")
def show(channel_id: int) -> str:
    me = signed_in_user()
    found = db.session.execute(
        CHANNEL_PAGE, {"channel_id": channel_id, "user_id": me.id}
    ).one_or_none()
    if found is None:
        abort(404)
    channel, live, membership_role = found
    policy.note_membership_role(me, channel.id, membership_role)
    if not policy.may_view_channel(me, channel):
        abort(403, gettext("Your account cannot open channels. Ask your administrator."))
    room = channel.room
    if policy.may_manage_members(me, channel):
        # Managers and admins get the members they can change, with their forms.
        from liveroom.channels.members import members_context

        managing = members_context(channel)
        members = ()
    else:
        managing = None
        members = channel_members(channel.id)
    if room is None:  # every channel gets its room when it is created
        abort(404)
    # A reload (or a second tab) finds the person where they were: in the meeting, in
    # its waiting room, or waiting for it to start.
    state, meeting = meeting_state_with(room, live)
    if "can_view_attendance" not in meeting:
        meeting["can_view_attendance"] = attendance_visible(room)
    meeting.setdefault("enabled", True)  # the waiting states exist only while rooms are on
    return render_template(
        "channels/channel.html",
        channel=channel,
        members=members,
        managing=managing,
        my_role=policy.channel_role(me, channel),
        state=state,
        button_box=drawn_button_box(state, meeting),
        **meeting,
    )
