"""What Liveroom stores. Rules about who may do what live in the policy modules."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from liveroom.extensions import db
from liveroom.roles import AppRole, ChannelRole, RoomRole


def utcnow() -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def _enum(enum_cls: type) -> sa.Enum:
    # Store the readable key ("viewerRole", "manager"), not the Python member name.
    return sa.Enum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=32,
        validate_strings=True,
    )


class User(UserMixin, db.Model):
    # The admin's Users list sorts by each (liveroom/admin/users.py): a page of 50 out
    # of 10,000 is read from an index instead of sorting everyone (the username's
    # unique index serves that sort).
    __table_args__ = (
        sa.Index("ix_user_display_name_id", "display_name", "id"),
        sa.Index("ix_user_role_username", "role", "username"),
        sa.Index("ix_user_created_at_id", "created_at", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[AppRole] = so.mapped_column(_enum(AppRole), default=AppRole.VIEWER)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Optional, for the school's records (CSV import); never shown to other users.
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    # Set by an admin's "Deactivate": no log-in, no session, out of every live room.
    # Cleared by "Reactivate". Someone with history is never deleted.
    deactivated_at: so.Mapped[datetime | None]
    # A temporary password (reset or import): the next log-in must choose a new one.
    must_change_password: so.Mapped[bool] = so.mapped_column(default=False)
    # The language they chose on their Account page (liveroom/i18n.py); None: their
    # browser's, then the site's.
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    # The kinds of live announcements they turned off (comma-separated, the room's
    # screen-reader announcements), and whether their keyboard shortcuts are on.
    announcements_off: so.Mapped[str] = so.mapped_column(
        sa.String(200), default="", server_default=""
    )
    shortcuts_on: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())

    memberships: so.Mapped[list[Membership]] = so.relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"


class SignInIdentity(db.Model):
    """An account at a school's identity provider (``kind`` "oidc") or LMS ("lti")
    that signs a person in. Matched by issuer and subject, never by email."""

    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject", name="uq_sign_in_identity_issuer_subject"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(8))
    issuer: so.Mapped[str] = so.mapped_column(sa.String(255))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_used_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    user: so.Mapped[User] = so.relationship()


class LoginSession(db.Model):
    """One signed-in browser. Its cookie holds a random token, and only the token's
    digest is stored here: ending the row logs out every copy of that cookie, and a
    leaked table opens no session."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    # sha256 hex of the cookie's token (liveroom/auth/sessions.py).
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Set by "Log out" (this row) or "Log out everywhere" (all the user's rows).
    ended_at: so.Mapped[datetime | None]


class Channel(db.Model):
    # A course of a learning platform has one channel (liveroom/lti/courses.py).
    __table_args__ = (
        sa.UniqueConstraint(
            "lti_platform", "lti_context_id", name="uq_channel_lti_platform_context"
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), unique=True)
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # An archived channel keeps its history and attendance but starts no meeting.
    archived_at: so.Mapped[datetime | None]
    # The course it was made for by an LTI launch: the platform's key ("issuer
    # client_id", as ``LtiPlatform.key``) and the course's context id, title and label.
    lti_platform: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    lti_context_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    lti_context_title: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    lti_context_label: so.Mapped[str | None] = so.mapped_column(sa.String(255))

    memberships: so.Mapped[list[Membership]] = so.relationship(
        back_populates="channel", cascade="all, delete-orphan"
    )
    room: so.Mapped[Room | None] = so.relationship(back_populates="channel", uselist=False)

    def __repr__(self) -> str:
        return f"<Channel {self.name}>"


class Membership(db.Model):
    __table_args__ = (sa.UniqueConstraint("channel_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    channel_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("channel.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    role: so.Mapped[ChannelRole] = so.mapped_column(_enum(ChannelRole))

    channel: so.Mapped[Channel] = so.relationship(back_populates="memberships")
    user: so.Mapped[User] = so.relationship(back_populates="memberships")


def new_public_id() -> str:
    """An unguessable room id: a private room's link is how its owner invites people."""
    return secrets.token_urlsafe(9)


class Room(db.Model):
    """A channel's room, or a private room with an owner (exactly one of the two)."""

    __table_args__ = (
        sa.CheckConstraint("(channel_id IS NULL) <> (owner_id IS NULL)", name="channel_or_owner"),
        sa.UniqueConstraint("owner_id", "name_key", name="uq_room_owner_name"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    # Digest of the name's NFKC case fold (``text.name_key``): "Algebra", "algebra" and
    # "ALGEBRA" are one name, and so are "Café" in its two Unicode forms. A digest,
    # because folding can triple a name's length ("ß" -> "ss", "ﬃ" -> "ffi").
    name_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    channel_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("channel.id"), unique=True)
    owner_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # A private room with history is archived rather than deleted: its owner's My Rooms
    # no longer lists it, its attendance stays.
    archived_at: so.Mapped[datetime | None]

    channel: so.Mapped[Channel | None] = so.relationship(back_populates="room")
    owner: so.Mapped[User | None] = so.relationship()

    @property
    def is_private(self) -> bool:
        return self.owner_id is not None

    def __repr__(self) -> str:
        return f"<Room {self.public_id} {self.name}>"


class LiveSession(db.Model):
    """A room's meeting between Start Meeting and its end."""

    __table_args__ = (
        # At most one live session per room, even when two instructors click at once.
        sa.Index(
            "uq_live_session_room_live",
            "room_id",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    room_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("room.id"), index=True)
    started_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    started_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    ended_at: so.Mapped[datetime | None]
    ended_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    # "ended" (an instructor ended it) or "no_instructor" (nobody led it for too long).
    end_reason: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    # Locked: newcomers wait in the waiting room until an instructor admits them.
    locked: so.Mapped[bool] = so.mapped_column(default=False)
    # Participant chat; instructors can always write.
    chat_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    # Who may publish audio and video (liveroom/media/rules.py ``StageMode``), chosen
    # from the site's default at the start.
    stage_mode: so.Mapped[str] = so.mapped_column(
        sa.String(12), default="everyone", server_default="everyone"
    )
    # "Mute all" in the strong way: participants who arrive later come in muted too,
    # until an instructor allows everyone to unmute.
    strong_mute: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # The person an instructor named to type live captions (WCAG 2.2 1.2.4), if any.
    captioner_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))

    room: so.Mapped[Room] = so.relationship()
    started_by: so.Mapped[User] = so.relationship(foreign_keys=[started_by_id])

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


def sort_name_of(display_name: str) -> str:
    """How the people list sorts a name: without regard to case (any script's)."""
    return display_name.casefold()[:200]


def _sort_name_default(context: sa.engine.interfaces.ExecutionContext) -> str:
    """A stay inserted without its sort name: its person's, read in the same
    transaction (one query; the app's own inserts give it and skip this)."""
    user_id = context.get_current_parameters().get("user_id")
    name = context.connection.scalar(sa.select(User.display_name).where(User.id == user_id))
    return sort_name_of(name or "")


class Participation(db.Model):
    """One stay of one person in one session: their room role and attendance times."""

    __table_args__ = (
        sa.Index(
            "uq_participation_present",
            "session_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        ),
        # The people list's order (liveroom/rooms/presence.py: instructors, raised hands
        # in the order they went up, then by name), so the top of a room of 1,000 is
        # read from the index, 50 entries, instead of sorting everyone on every join.
        sa.Index(
            "ix_participation_list_order",
            "session_id",
            sa.text(f"(room_role != '{RoomRole.INSTRUCTOR.value}')"),
            sa.text("(hand_raised_at IS NULL)"),
            "hand_raised_at",
            "sort_name",
            "id",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    room_role: so.Mapped[RoomRole] = so.mapped_column(_enum(RoomRole))
    joined_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    left_at: so.Mapped[datetime | None]
    # Set when the browser said goodbye (tab closed, page left): unless a heartbeat
    # follows within a few seconds (a reload), the stay ends at this moment.
    goodbye_at: so.Mapped[datetime | None]
    hand_raised_at: so.Mapped[datetime | None]
    # The person's display name as the people list sorts it (``sort_name_of``), kept on
    # the stay so the list's order has an index. Whatever renames a person updates
    # their open stays' copy. Joining sets it from the person it has loaded; any other
    # insert that leaves it out gets it from the database (``_sort_name_default``).
    sort_name: so.Mapped[str] = so.mapped_column(
        sa.String(200), default=_sort_name_default, server_default=""
    )
    # "Set as moderator": an instructor by promotion, not by their channel or site role.
    promoted: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # Media (liveroom/media/): what the person's browser sends now, as it reports it
    # (an instructor may turn each off; nobody turns another's on), and what the
    # instructors decided: a strong mute, an invitation onto the stage, leave to share.
    mic_on: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    camera_on: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    screen_on: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    strong_muted: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    on_stage: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    may_share: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())

    session: so.Mapped[LiveSession] = so.relationship()
    user: so.Mapped[User] = so.relationship()


class ChatMessage(db.Model):
    """A chat message. ``thread_user_id`` marks a private message: it belongs to the
    private thread between that participant and the room's instructors."""

    __table_args__ = (sa.Index("ix_chat_message_author_recent", "session_id", "author_id", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"), index=True)
    author_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    thread_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    deleted_at: so.Mapped[datetime | None]
    deleted_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))

    author: so.Mapped[User] = so.relationship(foreign_keys=[author_id])
    thread_user: so.Mapped[User | None] = so.relationship(foreign_keys=[thread_user_id])

    @property
    def is_private(self) -> bool:
        return self.thread_user_id is not None


class Caption(db.Model):
    """A line of live captions typed by the meeting's captioner, shown under the stage
    for everyone and kept with the chat for the retention period."""

    __table_args__ = (sa.Index("ix_caption_session_id_id", "session_id", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"))
    author_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)

    author: so.Mapped[User] = so.relationship()


class WaitingEntry(db.Model):
    """Someone asking to enter a locked room (or to come back after being removed)."""

    __table_args__ = (
        # One open request per person: two "Ask again" clicks at once keep one place.
        sa.Index(
            "uq_waiting_entry_open",
            "session_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("decision IS NULL"),
            postgresql_where=sa.text("decision IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    asked_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # None while waiting; then "admitted" or "denied".
    decision: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    decided_at: so.Mapped[datetime | None]
    decided_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])


class Removal(db.Model):
    """An instructor removed this person from this session; they may not rejoin it
    unless an instructor admits them again from the waiting room."""

    __table_args__ = (sa.UniqueConstraint("session_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    removed_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    removed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class Event(db.Model):
    """The room event log: what happened, in order. Ids are the replay cursor."""

    __table_args__ = (
        sa.Index("ix_event_room_id_id", "room_id", "id"),
        sa.Index("ix_event_session_id_id", "session_id", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # None for what concerns the whole site (its switches: ``Kind.SITE_CHANGED``).
    room_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("room.id"))
    session_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("live_session.id"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    data: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class RoomStream(db.Model):
    """One open event stream of one person in one session, counted across workers so
    that a person keeps at most a few tabs open per meeting."""

    __table_args__ = (sa.Index("ix_room_stream_open", "session_id", "user_id", "closed_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    opened_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    # Refreshed by the worker holding the stream; a crashed worker's streams go stale.
    seen_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    closed_at: so.Mapped[datetime | None]


class MediaRoom(db.Model):
    """A meeting's room on a media server (liveroom/media/sfu.py): which server holds
    it, its number there, and its secret, which only the app knows (the server needs
    it to change the room's list of who may enter, or to destroy it)."""

    session_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("live_session.id"), primary_key=True
    )
    # The server's Janus API address, as configured (LIVEROOM_JANUS_URLS).
    server: so.Mapped[str] = so.mapped_column(sa.String(300))
    room: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    secret: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class MediaPass(db.Model):
    """One stay's credential for its meeting's media room: a token the media server
    accepts for that room alone, withdrawn when the stay ends, is removed or the
    meeting ends."""

    participation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("participation.id"), primary_key=True
    )
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("live_session.id"), index=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class RateHit(db.Model):
    """One counted attempt in a rate limit's bucket ("login-ip:203.0.113.5", say), for
    limits that must hold across workers when there is no Redis."""

    __table_args__ = (sa.Index("ix_rate_hit_bucket_at", "bucket", "at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    bucket: so.Mapped[str] = so.mapped_column(sa.String(200))
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)


class UpkeepLease(db.Model):
    """Which process does a piece of upkeep (the presence sweep, forgetting old rows)
    until when: one at a time across every worker and host (``liveroom/leases.py``)."""

    name: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    holder: so.Mapped[str] = so.mapped_column(sa.String(100))
    expires_at: so.Mapped[datetime] = so.mapped_column()


class Setting(db.Model):
    key: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    value: so.Mapped[str] = so.mapped_column(sa.String(200))


class AuditEntry(db.Model):
    """Who changed what, for the admin's record."""

    # The audit log's filters (admin/audit_log.py), newest first, on 20,000+ entries:
    # by actor, by action, by date.
    __table_args__ = (
        sa.Index("ix_audit_entry_actor_id_at", "actor_id", "at"),
        sa.Index("ix_audit_entry_action_at", "action", "at"),
        sa.Index("ix_audit_entry_at", "at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    detail: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    actor: so.Mapped[User | None] = so.relationship()


class PasswordHandout(db.Model):
    """The temporary passwords of one CSV import, as the CSV the admin downloads to hand
    them out (``liveroom/handouts.py``). Plain text, so kept only until it is
    downloaded or ten minutes have passed, whichever comes first."""

    # sha256 hex of the download link's random token: the table alone opens nothing.
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("user.id"))
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)
    content: so.Mapped[str] = so.mapped_column(sa.Text)


class LtiPlatform(db.Model):
    """A learning platform (Moodle, Canvas) registered by an admin: LTI 1.3 launches
    from it are trusted when signed with a key of its key set."""

    __table_args__ = (
        sa.UniqueConstraint("issuer", "client_id", name="uq_lti_platform_issuer_client_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    issuer: so.Mapped[str] = so.mapped_column(sa.String(200))
    client_id: so.Mapped[str] = so.mapped_column(sa.String(54))
    auth_login_url: so.Mapped[str] = so.mapped_column(sa.String(500))
    auth_token_url: so.Mapped[str] = so.mapped_column(sa.String(500))
    key_set_url: so.Mapped[str] = so.mapped_column(sa.String(500))
    # One deployment id a line.
    deployment_ids: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The addresses people open the platform at, one a line, when they differ from
    # the issuer's (Canvas: the school's own instructure.com site): the pages may be
    # framed by these (liveroom/lti/frames.py).
    frame_origins: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    @property
    def key(self) -> str:
        """What names this registration in sign-in identities and channels: Canvas
        uses one issuer for every school, told apart by the client id."""
        return f"{self.issuer} {self.client_id}"

    @property
    def deployments(self) -> list[str]:
        return [line.strip() for line in self.deployment_ids.splitlines() if line.strip()]


class LtiNonce(db.Model):
    """A nonce handed out at login initiation, taken (deleted) by the one launch that
    brings it back: a replayed launch finds none, on any worker."""

    value: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)


class LtiRoleMapping(db.Model):
    """The channel role an LTI role gives (``*``: any other role). Admin-editable."""

    lti_role: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    channel_role: so.Mapped[ChannelRole] = so.mapped_column(_enum(ChannelRole))


class LtiToolKey(db.Model):
    """The tool's RSA key (one row, made on first use); its public half is the tool's
    JWKS. A secret like the site's secret key: never exported."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kid: so.Mapped[str] = so.mapped_column(sa.String(64))
    private_pem: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
