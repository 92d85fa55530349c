"""Admin: every channel in one table (search, sort, pages), a new channel, and one
channel's page (name, description, archive, members). The changes themselves are
``liveroom.channels.manage``; membership views are the channels blueprint's
(``channels/members.py``), which its Managers reach too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from liveroom.admin import bp
from liveroom.auth.sessions import signed_in_user
from liveroom.channels import manage
from liveroom.channels.forms import ChannelForm, ConfirmForm
from liveroom.channels.members import members_context
from liveroom.extensions import db
from liveroom.models import Channel, LiveSession, Membership, Room
from liveroom.params import int_arg
from liveroom.templating import wants_fragment
from liveroom.text import clean_line

PER_PAGE = 25
SORTS = {"name": _l("Name"), "newest": _l("Newest first"), "members": _l("Most members")}
STATUSES = {"active": _l("Active"), "archived": _l("Archived"), "all": _l("All")}


class ChannelRow(NamedTuple):
    id: int
    name: str
    created_at: object
    archived_at: object
    members: int
    live: bool


@dataclass(frozen=True)
class ChannelTable:
    rows: list[ChannelRow]
    total: int
    page: int
    pages: int
    q: str
    sort: str
    status: str

    def query(self, **changes: object) -> dict:
        """The table's query string with ``changes`` (for its links)."""
        values = {"q": self.q, "sort": self.sort, "status": self.status, "page": self.page}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}


_MEMBER_COUNT = (
    sa.select(sa.func.count())
    .where(Membership.channel_id == Channel.id)
    .correlate(Channel)
    .scalar_subquery()
)
_LIVE = (
    sa.exists()
    .where(Room.channel_id == Channel.id, LiveSession.room_id == Room.id)
    .where(LiveSession.ended_at.is_(None))
)


def channel_table(q: str, sort: str, status: str, page: int) -> ChannelTable:
    """One page of the channels, filtered and sorted: one statement for the rows (the
    member counts and live meetings in it) and one for the count."""
    where = []
    if q:
        where.append(sa.func.lower(Channel.name).contains(q.lower(), autoescape=True))
    if status == "active":
        where.append(Channel.archived_at.is_(None))
    elif status == "archived":
        where.append(Channel.archived_at.is_not(None))
    total = db.session.scalar(sa.select(sa.func.count(Channel.id)).where(*where))
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    order = {
        "name": (Channel.name, Channel.id),
        "newest": (Channel.created_at.desc(), Channel.id.desc()),
        "members": (_MEMBER_COUNT.desc(), Channel.name, Channel.id),
    }[sort]
    rows = db.session.execute(
        sa.select(
            Channel.id,
            Channel.name,
            Channel.created_at,
            Channel.archived_at,
            _MEMBER_COUNT.label("members"),
            _LIVE.label("live"),
        )
        .where(*where)
        .order_by(*order)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return ChannelTable([ChannelRow(*row) for row in rows], total, page, pages, q, sort, status)


def table_from_request() -> ChannelTable:
    q = clean_line(request.args.get("q", ""))[:100]
    sort = request.args.get("sort", "name")
    status = request.args.get("status", "active")
    if sort not in SORTS:
        sort = "name"
    if status not in STATUSES:
        status = "active"
    return channel_table(q, sort, status, max(1, int_arg("page", 1)))


@bp.get("/channels")
def channels() -> str:
    table = table_from_request()
    context = {"table": table, "sorts": SORTS, "statuses": STATUSES}
    if wants_fragment():
        return render_template("admin/_channel_table.html", oob=True, **context)
    return render_template("admin/channels.html", form=ChannelForm(formdata=None), **context)


@bp.post("/channels")
def create_channel() -> Response | tuple[str, int]:
    form = ChannelForm()
    error = None
    if form.validate_on_submit():
        try:
            channel = manage.create_channel(
                form.name.data or "", form.description.data or "", signed_in_user()
            )
        except manage.ChannelError as refused:
            error = str(refused)
        else:
            flash(
                _(
                    "Channel “%(name)s” created. Add its Managers and members below.",
                    name=channel.name,
                ),
                "success",
            )
            return redirect(url_for("admin.channel", channel_id=channel.id), 303)
    form.name.errors = [error or _("The form expired: try again.")]
    table = table_from_request()
    return render_template(
        "admin/channels.html", form=form, table=table, sorts=SORTS, statuses=STATUSES
    ), 422


def load_channel(channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        abort(404)
    return channel


def render_channel(channel: Channel, form: ChannelForm | None = None, status: int = 200):
    if form is None:
        form = ChannelForm(
            formdata=None, data={"name": channel.name, "description": channel.description}
        )
    live = channel.room is not None and db.session.scalar(
        sa.select(LiveSession.id).where(
            LiveSession.room_id == channel.room.id, LiveSession.ended_at.is_(None)
        )
    )
    managing = members_context(channel)
    managing["back"] = "admin"
    return render_template(
        "admin/channel.html",
        channel=channel,
        form=form,
        live=bool(live),
        managing=managing,
    ), status


@bp.get("/channels/<id:channel_id>")
def channel(channel_id: int):
    return render_channel(load_channel(channel_id))


@bp.post("/channels/<id:channel_id>")
def rename_channel(channel_id: int):
    channel = load_channel(channel_id)
    form = ChannelForm()
    if not form.validate_on_submit():
        form.name.errors = [_("The form expired: try again.")]
        return render_channel(channel, form, 422)
    try:
        changed = manage.rename_channel(
            channel, form.name.data or "", form.description.data or "", signed_in_user()
        )
    except manage.ChannelError as refused:
        form.name.errors = [str(refused)]
        form.name.data = clean_line(form.name.data or "")
        return render_channel(channel, form, 422)
    flash(_("Channel saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("admin.channel", channel_id=channel.id), 303)


@bp.post("/channels/<id:channel_id>/archive")
def archive_channel(channel_id: int):
    channel = load_channel(channel_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    archived = request.form.get("archived") != "false"
    had_live = (
        archived
        and channel.room is not None
        and db.session.scalar(
            sa.select(LiveSession.id).where(
                LiveSession.room_id == channel.room.id, LiveSession.ended_at.is_(None)
            )
        )
    )
    manage.set_archived(channel, archived, signed_in_user())
    if archived:
        message = _(
            "“%(name)s” is archived: its history is kept; no meeting can start.",
            name=channel.name,
        )
        if had_live:
            message += " " + _("Its live meeting has ended.")
    else:
        message = _("“%(name)s” is active again: its meetings can start.", name=channel.name)
    flash(message, "success")
    return redirect(url_for("admin.channel", channel_id=channel.id), 303)
