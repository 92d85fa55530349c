"""Channels: the list, and a channel's page with its meeting button and members."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from liveroom.channels import policy
from liveroom.extensions import db
from liveroom.models import Channel, Membership, User
from liveroom.roles import ChannelRole
from liveroom.rooms import service as room_service
from liveroom.rooms.routes import attendance_visible, meeting_state

bp = Blueprint("channels", __name__, url_prefix="/channels")

ROLE_ORDER = {role: rank for rank, role in enumerate(ChannelRole)}


@bp.before_request
@login_required
def require_login() -> None:
    """Channels are for signed-in people only."""


@bp.get("/")
def index() -> str:
    query = sa.select(Channel).order_by(Channel.name)
    if not policy.lists_all_channels(current_user):
        query = query.join(Membership).where(Membership.user_id == current_user.id)
    channels = list(db.session.scalars(query))
    live_room_ids = room_service.live_channel_ids([c.id for c in channels])
    roles = {c.id: policy.channel_role(current_user, c) for c in channels}
    return render_template(
        "channels/index.html", channels=channels, roles=roles, live_ids=live_room_ids
    )


@bp.get("/<id:channel_id>")
def show(channel_id: int) -> str:
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        abort(404)
    if not policy.may_view_channel(current_user, channel):
        abort(403, "Your account cannot open channels. Ask your administrator.")
    members = list(
        db.session.scalars(
            sa.select(Membership)
            .join(User)
            .where(Membership.channel_id == channel.id)
            .options(so.contains_eager(Membership.user))
        )
    )
    members.sort(key=lambda m: (ROLE_ORDER[m.role], m.user.display_name.casefold()))
    room = channel.room
    if room is None:  # every channel gets its room when it is created
        abort(404)
    # A reload (or a second tab) finds the person where they were: in the meeting, in
    # its waiting room, or waiting for it to start.
    state, meeting = meeting_state(room)
    meeting.setdefault("can_view_attendance", attendance_visible(room))
    meeting.setdefault("enabled", True)  # the waiting states exist only while rooms are on
    return render_template(
        "channels/channel.html",
        channel=channel,
        members=members,
        my_role=policy.channel_role(current_user, channel),
        state=state,
        **meeting,
    )
