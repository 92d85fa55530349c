"""Room chat: post, delete, turn participant chat off and on, load recent messages."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import format_number, ngettext
from flask_babel import gettext as _

from liveroom import audit, events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import Caption, ChatMessage, LiveSession, Participation, Room, User, utcnow
from liveroom.roles import RoomRole
from liveroom.rooms import policy
from liveroom.rooms.policy import Rank, Rights
from liveroom.text import clean_text, is_blank

MAX_LENGTH = 2000
RATE_WINDOW = timedelta(seconds=5)
# Messages per person per window. Instructors lead the class and may post faster
# (a teacher pasting steps, 2 a second), participants 5 in 5 seconds.
RATE_LIMIT = {RoomRole.PARTICIPANT: 5, RoomRole.INSTRUCTOR: 15}
HISTORY = 100


class ChatError(ValueError):
    """A message that cannot be posted; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def clean_body(raw: str) -> str:
    # NFC, control characters out (newlines stay), bidi controls closed per line.
    body = clean_text(raw, keep_newlines=True).strip()
    if is_blank(body):
        raise ChatError(_("Write a message first."))
    if len(body) > MAX_LENGTH:
        raise ChatError(
            _(
                "Messages can be at most %(limit)s characters (this one has %(length)s).",
                limit=format_number(MAX_LENGTH),
                length=format_number(len(body)),
            )
        )
    return body


def thread_for(me: Participation, rights: Rights, to_user_id: int | None) -> int | None:
    """Which private thread a message goes to, or None for everyone.

    A private thread is between one person and the staff instructors. Anyone who is
    not staff (a promoted instructor too) writes privately only into their own
    thread; staff write privately to one person in the room who is not staff.
    """
    if to_user_id is None:
        return None
    if not rights.staff:
        if to_user_id != me.user_id:
            raise ChatError(_("You can write privately to the instructors only."))
        return me.user_id
    recipient = db.session.scalar(
        sa.select(Participation).where(
            Participation.session_id == me.session_id,
            Participation.user_id == to_user_id,
            Participation.left_at.is_(None),
        )
    )
    if recipient is None or recipient.user_id == me.user_id:
        raise ChatError(_("That person is not in the room any more."))
    if policy.shown_rank(recipient) is Rank.STAFF:
        raise ChatError(_("Private messages go between one person and the instructors."))
    return recipient.user_id


def add_and_count_recent(row: ChatMessage | Caption, window: timedelta) -> int:
    """Add an author's new chat message or caption line, and count what they wrote of
    that kind in its meeting within ``window``, this one included (rate limits).

    Written first and counted after, with itself: two posts sent at once must not both
    count four and both become the fifth. On SQLite the insert holds the write lock
    until this commits, so the other post counts only once this one is in; on
    PostgreSQL the author's advisory lock in this meeting does the same."""
    kind = type(row)
    if db.session.get_bind().dialect.name == "postgresql":
        bucket = f"{kind.__tablename__}:{row.session_id}:{row.author_id}"
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(bucket))))
    db.session.add(row)
    db.session.flush()
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            kind.session_id == row.session_id,
            kind.author_id == row.author_id,
            kind.created_at > utcnow() - window,
        )
    )


def post_message(
    session: LiveSession,
    me: Participation | None,
    raw: str,
    to_user_id: int | None = None,
    rights: Rights | None = None,
) -> ChatMessage:
    """Post to everyone, or into a private thread. ``rights`` are the author's in the
    meeting now (by default what their stay records)."""
    if session.ended_at is not None:
        raise ChatError(_("This meeting has ended."), 409)
    if not policy.may_chat(me, session):
        if me is None or me.left_at is not None:
            raise ChatError(_("Join the meeting to chat."), 403)
        raise ChatError(_("The instructor has turned chat off for participants."), 403)
    rights = rights or policy.rights_for(policy.shown_rank(me), me)
    body = clean_body(raw)
    thread = thread_for(me, rights, to_user_id)
    message = ChatMessage(
        session_id=session.id, author_id=me.user_id, body=body, thread_user_id=thread
    )
    recent = add_and_count_recent(message, RATE_WINDOW)
    limit = RATE_LIMIT[me.room_role]
    if recent > limit:
        db.session.rollback()
        raise ChatError(
            ngettext(
                "You can send %(num)d message every %(seconds)s seconds. "
                "Wait a moment and send it again.",
                "You can send %(num)d messages every %(seconds)s seconds. "
                "Wait a moment and send it again.",
                limit,
                seconds=RATE_WINDOW.seconds,
            ),
            429,
        )
    events.append(
        session.room_id,
        Kind.CHAT_POSTED,
        session.id,
        message_id=message.id,
        thread_user_id=thread,
        # Whose message it is decides who may delete it: saves a query per message.
        author_rank=rights.rank.name.lower(),
    )
    db.session.commit()
    return message


def delete_message(message: ChatMessage, actor: User) -> None:
    """Remove a message for everyone."""
    if message.deleted_at is not None:
        return
    message.deleted_at = utcnow()
    message.deleted_by_id = actor.id
    session = db.session.get(LiveSession, message.session_id)
    events.append(
        session.room_id,
        Kind.CHAT_DELETED,
        session.id,
        message_id=message.id,
        thread_user_id=message.thread_user_id,
    )
    if actor.id != message.author_id:  # a moderator's deletion, not one's own
        audit.in_meeting(
            actor.id, "message_deleted", session.id, message.author_id, f"message {message.id}"
        )
    db.session.commit()


def visible_messages_query(
    session_id: int | sa.ColumnElement[int],
    viewer_id: int | sa.ColumnElement[int],
    reads_all_threads: bool,
) -> sa.Select:
    """Messages to everyone, and the private threads the viewer may read: every
    thread for staff, only their own for anyone else (``policy.may_read_message``)."""
    query = (
        sa.select(ChatMessage)
        .where(ChatMessage.session_id == session_id, ChatMessage.deleted_at.is_(None))
        .options(so.joinedload(ChatMessage.author), so.joinedload(ChatMessage.thread_user))
    )
    if not reads_all_threads:
        query = query.where(
            sa.or_(ChatMessage.thread_user_id.is_(None), ChatMessage.thread_user_id == viewer_id)
        )
    return query


def _newest_visible(reads_all_threads: bool) -> sa.Select:
    query = visible_messages_query(
        sa.bindparam("session_id"), sa.bindparam("viewer_id"), reads_all_threads
    )
    return query.order_by(ChatMessage.id.desc()).limit(sa.bindparam("limit", type_=sa.Integer))


# Built once (every panel asks, a join storm a thousand times): for staff, for others.
_NEWEST_VISIBLE = {reads_all: _newest_visible(reads_all) for reads_all in (True, False)}


def recent_messages(
    session: LiveSession, viewer_id: int, reads_all_threads: bool, limit: int = HISTORY
) -> list[ChatMessage]:
    """The last ``limit`` messages this person may read, oldest first."""
    newest = list(
        db.session.scalars(
            _NEWEST_VISIBLE[reads_all_threads],
            {"session_id": session.id, "viewer_id": viewer_id, "limit": limit},
        )
    )
    return newest[::-1]


# Deleted messages, for admins only (liveroom/admin/routes.py): evidence of bullying.
# Nobody else ever receives a deleted message's text: chat history leaves it out, and
# the stream renders a message again on replay, so a deleted one never comes back.
DELETED_SHOWN = 200


def deleted_for_everyone(limit: int = DELETED_SHOWN) -> list[tuple[ChatMessage, str, str, str]]:
    """The newest messages deleted for everyone, with their room's name, their author's
    name and username, and who deleted them (a name): for the admins' page only."""
    author, deleter = so.aliased(User), so.aliased(User)
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(ChatMessage, Room.name, author.display_name, author.username)
            .add_columns(deleter.display_name)
            .join(LiveSession, LiveSession.id == ChatMessage.session_id)
            .join(Room, Room.id == LiveSession.room_id)
            .join(author, author.id == ChatMessage.author_id)
            .outerjoin(deleter, deleter.id == ChatMessage.deleted_by_id)
            .where(ChatMessage.deleted_at.is_not(None))
            .order_by(ChatMessage.deleted_at.desc(), ChatMessage.id.desc())
            .limit(limit)
        )
    ]
