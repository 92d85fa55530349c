"""Running channels: create, rename, describe, archive; add and remove members and
change their channel role. The admin console, a channel page's members and the
command line all call these, so every rule (unique names, the last Manager) and every
audit entry is in one place.

Who may call them is ``policy.may_manage_channels`` and ``policy.may_manage_members``:
the views ask first. Each function is one transaction: it commits, or raises
``ChannelError`` with a sentence for the person, having changed nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from liveroom import audit
from liveroom.extensions import db
from liveroom.models import Channel, LiveSession, Membership, Room, User, utcnow
from liveroom.roles import ChannelRole
from liveroom.text import clean_line, clean_text, name_key

NAME_MAX = 100
DESCRIPTION_MAX = 2000


class ChannelError(ValueError):
    """A change that cannot be made; the message is shown to the person."""


def clean_channel_name(raw: str) -> str:
    name = clean_line(raw)
    if not name:
        raise ChannelError(_("Enter a name for the channel."))
    if len(name) > NAME_MAX:
        raise ChannelError(
            ngettext(
                "Channel names can be at most %(num)d character.",
                "Channel names can be at most %(num)d characters.",
                NAME_MAX,
            )
        )
    return name


def clean_description(raw: str) -> str:
    description = clean_text(raw, keep_newlines=True).strip()
    if len(description) > DESCRIPTION_MAX:
        raise ChannelError(
            ngettext(
                "Descriptions can be at most %(num)d character.",
                "Descriptions can be at most %(num)d characters.",
                DESCRIPTION_MAX,
            )
        )
    return description


def _name_taken(name: str) -> ChannelError:
    return ChannelError(
        _("A channel called “%(name)s” already exists. Choose another name.", name=name)
    )


def _by(actor: User | None) -> tuple[int | None, str]:
    """The audit entry's actor, and a note for the command line's entries."""
    return (actor.id, "") if actor is not None else (None, " (CLI)")


def create_channel(name: str, description: str, actor: User | None) -> Channel:
    """A new channel with its live room. Names are unique (the constraint decides a race)."""
    name = clean_channel_name(name)
    description = clean_description(description)
    if db.session.scalar(sa.select(Channel.id).where(Channel.name == name)):
        raise _name_taken(name)
    channel = Channel(name=name, description=description)
    channel.room = Room(name=name, name_key=name_key(name))
    db.session.add(channel)
    actor_id, note = _by(actor)
    try:
        db.session.flush()
        audit.record(actor_id, "channel_created", f"{name}{note}")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _name_taken(name) from None
    return channel


def rename_channel(channel: Channel, name: str, description: str, actor: User) -> bool:
    """A new name and description (its room's name follows: the room page and the
    attendance show it). Returns whether anything changed."""
    name = clean_channel_name(name)
    description = clean_description(description)
    before = channel.name
    if name == channel.name and description == channel.description:
        return False
    if name != before and db.session.scalar(
        sa.select(Channel.id).where(Channel.name == name, Channel.id != channel.id)
    ):
        raise _name_taken(name)
    channel.name = name
    channel.description = description
    if channel.room is not None:
        channel.room.name = name
        channel.room.name_key = name_key(name)
    if name != before:
        audit.record(actor.id, "channel_renamed", f"{before} → {name}")
    else:
        audit.record(actor.id, "channel_described", name)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _name_taken(name) from None
    return True


def set_archived(channel: Channel, archived: bool, actor: User) -> bool:
    """Archive (or bring back) a channel. An archived channel keeps its history and
    attendance but starts no meeting; a meeting live in it ends now, for everyone in
    it, as if its instructor had ended it. Returns whether anything changed."""
    from liveroom.rooms.meetings import end_session

    if (channel.archived_at is not None) == archived:
        return False
    channel.archived_at = utcnow() if archived else None
    audit.record(actor.id, "channel_archived" if archived else "channel_unarchived", channel.name)
    db.session.commit()
    if archived and channel.room is not None:
        live = db.session.scalar(
            sa.select(LiveSession).where(
                LiveSession.room_id == channel.room.id, LiveSession.ended_at.is_(None)
            )
        )
        if live is not None:
            end_session(live, actor, reason="archived")
    return True


# --- Members ----------------------------------------------------------------------


def _lock_channel(channel_id: int) -> None:
    """Hold the channel's members still until the transaction ends, so that two
    requests at once cannot both find another Manager and both take one away: the
    channel's row is locked on PostgreSQL; on SQLite a write takes the database's
    write lock before anything is counted (see ``live.slots.open_slot``)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.update(Channel).where(Channel.id == channel_id).values(id=Channel.id))
    else:
        db.session.execute(sa.select(Channel.id).where(Channel.id == channel_id).with_for_update())


def _is_counted_manager(membership: Membership) -> bool:
    return membership.role is ChannelRole.MANAGER and not membership.user.role.is_admin


def _other_managers(channel_id: int, but_user_id: int) -> int:
    rows = db.session.execute(
        sa.select(User.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.channel_id == channel_id,
            Membership.role == ChannelRole.MANAGER,
            Membership.user_id != but_user_id,
        )
    ).scalars()
    return sum(1 for role in rows if not role.is_admin)


LAST_MANAGER = (
    "{name} is this channel's last Manager: make someone else Manager first, "
    "so that the channel keeps someone to run it."
)


def membership_of(channel_id: int, user_id: int) -> Membership | None:
    return db.session.scalar(
        sa.select(Membership).where(
            Membership.channel_id == channel_id, Membership.user_id == user_id
        )
    )


def _follow(user: User) -> None:
    """Their live meetings follow the new role at once (``moderation.follow_roles``)."""
    from liveroom.rooms.moderation import follow_roles

    follow_roles(user)


def set_member(
    channel: Channel, user: User, role: ChannelRole, actor: User | None, only_new: bool = False
) -> Membership:
    """Add ``user`` to the channel with ``role``, or change their role there. A
    demotion of the last Manager is refused (``ChannelError``). ``only_new``: the
    admin's "Add" form, which says so when they are a member already."""
    _lock_channel(channel.id)
    membership = membership_of(channel.id, user.id)
    actor_id, note = _by(actor)
    if membership is None:
        membership = Membership(channel_id=channel.id, user_id=user.id, role=role)
        db.session.add(membership)
        audit.record(
            actor_id, "membership_added", f"{user.username}: {role.value} of {channel.name}{note}"
        )
    else:
        if only_new:
            db.session.rollback()
            raise ChannelError(
                _(
                    "%(name)s is already a member (%(role)s): change their role in the list.",
                    name=user.display_name,
                    role=membership.role.label,
                )
            )
        before = membership.role
        if before is role:
            db.session.rollback()
            return membership
        if (
            _is_counted_manager(membership)
            and role is not ChannelRole.MANAGER
            and not _other_managers(channel.id, user.id)
        ):
            db.session.rollback()
            raise ChannelError(LAST_MANAGER.format(name=user.display_name))
        membership.role = role
        audit.record(
            actor_id,
            "membership_role_changed",
            f"{user.username}: {before.value} → {role.value} of {channel.name}{note}",
        )
    db.session.commit()
    _follow(user)
    return membership


def remove_member(channel: Channel, user: User, actor: User) -> bool:
    """Take ``user`` out of the channel; they leave its live meeting at once. The last
    Manager cannot be removed (``ChannelError``). Returns whether they were a member."""
    _lock_channel(channel.id)
    membership = membership_of(channel.id, user.id)
    if membership is None:
        db.session.rollback()
        return False
    if _is_counted_manager(membership) and not _other_managers(channel.id, user.id):
        db.session.rollback()
        raise ChannelError(LAST_MANAGER.format(name=user.display_name))
    db.session.delete(membership)
    audit.record(
        actor.id,
        "membership_removed",
        f"{user.username}: {membership.role.value} of {channel.name}",
    )
    db.session.commit()
    _follow(user)
    return True
