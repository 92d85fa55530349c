"""Managing a channel's members: add, remove, change a role. Reached from the channel's
own page (its Managers) and from the admin console (admins, every channel): one set of
views here, outside the admin blueprint, each asking ``policy.may_manage_members``.

HTMX gets the members section back (``channels/_members_manage.html``) with a sentence
for the page's live region; a plain form post is redirected to where it came from.
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from liveroom.auth.sessions import signed_in_user
from liveroom.channels import bp, manage, policy
from liveroom.channels.forms import AddMemberForm, ConfirmForm, MemberRoleForm
from liveroom.extensions import db
from liveroom.models import Channel, Membership, User
from liveroom.roles import ChannelRole
from liveroom.templating import wants_fragment
from liveroom.text import clean_line

ROLE_ORDER = {role: rank for rank, role in enumerate(ChannelRole)}


class ManagedMember(NamedTuple):
    """One member as the managers' list shows them."""

    user_id: int
    username: str
    display_name: str
    role: ChannelRole


# Plain rows, one statement, in the list's order (Managers first, then by name).
_MANAGED = (
    sa.select(User.id, User.username, User.display_name, Membership.role)
    .join(Membership, Membership.user_id == User.id)
    .where(Membership.channel_id == sa.bindparam("channel_id"))
)


def managed_members(channel_id: int) -> list[ManagedMember]:
    rows = db.session.execute(_MANAGED, {"channel_id": channel_id}).all()
    members = [ManagedMember(*row) for row in rows]
    members.sort(key=lambda m: (ROLE_ORDER[m.role], m.display_name.casefold(), m.user_id))
    return members


def load_for_managing(channel_id: int) -> Channel:
    """The channel, if the signed-in person may manage its members (else 404 or 403)."""
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        abort(404)
    if not policy.may_manage_members(signed_in_user(), channel):
        abort(
            403,
            _("Only this channel's Managers and the site's administrators manage its members."),
        )
    return channel


def members_context(channel: Channel, **extra: object) -> dict:
    return {
        "channel": channel,
        "managed": tuple(managed_members(channel.id)),
        # What the Add form shows again after a refusal (no form object is built to
        # draw the list: it would sign a CSRF token of its own).
        "add_form": extra.pop("add_form", None),
        "role_choices": tuple(ChannelRole),
        "back": request.values.get("back", ""),
        **extra,
    }


def answer(channel: Channel, message: str = "", error: str = "", status: int = 200, **extra):
    """The members section for HTMX, else back to the page the form was on."""
    if wants_fragment() or status >= 400:
        html = render_template(
            "channels/_members_manage.html",
            message=message,
            error=error,
            status_oob=wants_fragment(),
            **members_context(channel, **extra),
        )
        return html, status
    return redirect(safe_back(channel), 303)


def safe_back(channel: Channel) -> str:
    """Where a plain form post returns: the admin's page of the channel or its own."""
    if request.values.get("back") == "admin":
        return url_for("admin.channel", channel_id=channel.id)
    return url_for("channels.show", channel_id=channel.id)


def member_user(channel: Channel, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/<id:channel_id>/members")
def members(channel_id: int) -> tuple[str, int] | Response:
    channel = load_for_managing(channel_id)
    if not wants_fragment():
        return redirect(safe_back(channel), 303)
    return answer(channel)


@bp.post("/<id:channel_id>/members")
def add_member(channel_id: int):
    channel = load_for_managing(channel_id)
    form = AddMemberForm()
    if not form.validate_on_submit():
        return answer(channel, error=_("Choose a channel role from the list."), status=422)
    username = clean_line(form.username.data or "").lower()
    if not username:
        return answer(channel, error=_("Enter the username of the person to add."), status=422)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        form.username.data = username
        return answer(
            channel,
            error=_("No account has the username “%(username)s”.", username=username),
            status=422,
            add_form=form,
        )
    role = ChannelRole(form.role.data)
    try:
        manage.set_member(channel, user, role, signed_in_user(), only_new=True)
    except manage.ChannelError as error:
        return answer(channel, error=str(error), status=409)
    return answer(
        channel, message=_("%(name)s added as %(role)s.", name=user.display_name, role=role.label)
    )


@bp.post("/<id:channel_id>/members/<id:user_id>/role")
def change_member_role(channel_id: int, user_id: int):
    channel = load_for_managing(channel_id)
    user = member_user(channel, user_id)
    form = MemberRoleForm()
    if not form.validate_on_submit():
        return answer(channel, error=_("Choose a channel role from the list."), status=422)
    if manage.membership_of(channel.id, user.id) is None:
        return answer(
            channel,
            error=_("%(name)s is not a member any more.", name=user.display_name),
            status=409,
        )
    role = ChannelRole(form.role.data)
    try:
        manage.set_member(channel, user, role, signed_in_user())
    except manage.ChannelError as error:
        return answer(channel, error=str(error), status=409)
    return answer(
        channel, message=_("%(name)s is now %(role)s.", name=user.display_name, role=role.label)
    )


@bp.post("/<id:channel_id>/members/<id:user_id>/remove")
def remove_member(channel_id: int, user_id: int):
    channel = load_for_managing(channel_id)
    user = member_user(channel, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        removed = manage.remove_member(channel, user, signed_in_user())
    except manage.ChannelError as error:
        return answer(channel, error=str(error), status=409)
    if not removed:
        return answer(
            channel,
            error=_("%(name)s is not a member any more.", name=user.display_name),
            status=409,
        )
    return answer(channel, message=_("%(name)s removed from the channel.", name=user.display_name))
