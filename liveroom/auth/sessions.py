"""Sessions that end: a logged-out cookie stays logged out, wherever it was copied.

Liveroom's session is a signed cookie, and a saved copy of a signed cookie works as
well as the original: nothing in it can be taken back. So every log-in also makes a
row on the server (``LoginSession``, table ``login_session``), and the cookie carries
a random token whose sha256 digest names that row. A request is signed in only while
its row is open, checked by the user loader in the same query that loads the user
(one query per request, or none while the worker remembers the answer:
``liveroom/freshness.py``).

- "Log out" ends this browser's row: every copy of this cookie is dead, and the same
  person's other browsers (the teacher's phone, say) stay signed in.
- "Log out everywhere" ends all of the person's rows; a password change or a
  deactivation calls ``end_every_session`` too.
- A session also ends by itself ``LIVEROOM_SESSION_DAYS`` (14) days after the log-in,
  however busy it was: a copied cookie stops working by then even if nobody logs
  out. The live hub's upkeep deletes the rows that ended or ran out more than a day
  ago (``forget_old``), so the table holds the open sessions and little more.
- Open room streams end with their session: each stream remembers its row's id
  (``current_login_id``), and the live hub's upkeep closes, within seconds, the streams
  whose row has ended (liveroom/live/hub.py).

Only the digest is stored, so reading the table opens no session. A cookie from
before these rows (no token) counts as logged out, and so does Flask-Login's
remember-me cookie, which is never issued (``login_user`` is never asked to remember)
and restores no token if presented anyway.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, g, session
from flask.globals import _cv_app
from flask_login import current_user, login_user, logout_user

from liveroom import freshness
from liveroom.extensions import db
from liveroom.models import LoginSession, User, utcnow

TOKEN_KEY = "login_token"

# Ended or run-out sessions are kept this long before ``forget_old`` deletes them.
KEEP_ENDED = timedelta(days=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token() -> str | None:
    token = session.get(TOKEN_KEY)
    return token if isinstance(token, str) and token else None


def begin_session(user: User) -> None:
    """Log ``user`` in on this browser with a session of its own; the caller commits."""
    # Nothing from before the log-in (an old session's keys) carries over.
    session.clear()
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, token_hash=_digest(token)))
    login_user(user)
    session[TOKEN_KEY] = token


def lifetime() -> timedelta:
    """How long a session lasts from its log-in (``LIVEROOM_SESSION_DAYS``)."""
    return timedelta(days=current_app.config["LIVEROOM_SESSION_DAYS"])


def _oldest_open_login() -> datetime:
    """Sessions logged in before this have run out, used or not."""
    return utcnow() - lifetime()


# Built once: constructing a statement costs more than running it (the loader runs on
# every signed-in request), and SQLAlchemy reuses its compiled form either way.
_USER_OF_OPEN_SESSION = (
    sa.select(User, LoginSession.id, LoginSession.created_at)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(
        User.id == sa.bindparam("user_id"),
        # Deactivation ends the sessions too; this holds even if a row was missed.
        User.deactivated_at.is_(None),
        LoginSession.token_hash == sa.bindparam("token_hash"),
        LoginSession.ended_at.is_(None),
        LoginSession.created_at >= sa.bindparam("oldest_open"),
    )
)


@dataclass(frozen=True)
class _Known:
    """An open session as a worker remembers it (liveroom/freshness.py): the user's
    columns in a detached copy, and the session's id and start."""

    user: User
    login_id: int
    logged_in_at: datetime


def user_of_this_session(user_id: int) -> User | None:
    """The user whose open session this request's cookie holds; None when the cookie
    has no token, or its session has ended or run out. One query, or none while this
    worker remembers the session (``freshness``: any change to an account, a session
    or a setting anywhere makes every worker ask again). Remembers the session's id for
    the request (``current_login_id``)."""
    token = _token()
    if token is None:
        return None
    key = (user_id, _digest(token))
    oldest_open = _oldest_open_login()
    memory = freshness.memory()
    known: _Known | None = memory.recall("sessions", key) if memory else None
    if known is not None and known.logged_in_at >= oldest_open:
        g.login_session_id = known.login_id
        # A copy of its own for this request's database session, made without a query.
        return db.session.merge(known.user, load=False)
    stamp = memory.stamp() if memory else None
    row = db.session.execute(
        _USER_OF_OPEN_SESSION,
        {"user_id": user_id, "token_hash": key[1], "oldest_open": oldest_open},
    ).first()
    if row is None:
        return None
    user, g.login_session_id, logged_in_at = row
    if memory is not None:
        memory.keep("sessions", key, _Known(_detached_copy(user), row[1], logged_in_at), stamp)
    return user


def _detached_copy(user: User) -> User:
    """A copy of ``user``'s columns that belongs to no database session."""
    copy = User(**{attr.key: getattr(user, attr.key) for attr in _USER_COLUMNS})
    so.make_transient_to_detached(copy)
    return copy


_USER_COLUMNS = sa.inspect(User).column_attrs


def current_login_id() -> int | None:
    """This request's login session id, once the user loader found it open."""
    return g.get("login_session_id")


def end_every_session(user: User) -> None:
    """End every session of ``user``, in every browser; the caller commits."""
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def end_this_session() -> None:
    """End this browser's session (every copy of its cookie) and empty the cookie;
    the caller commits."""
    token = _token()
    if token is not None:
        db.session.execute(
            sa.update(LoginSession)
            .where(LoginSession.token_hash == _digest(token), LoginSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    logout_user()
    session.clear()
    g.pop("login_session_id", None)


def ended_among(login_ids: list[int]) -> set[int]:
    """Which of these sessions have ended or run out (the hub closes their open
    streams)."""
    ended: set[int] = set()
    oldest_open = _oldest_open_login()
    # Chunks keep each query within every database's limit on bound parameters.
    for start in range(0, len(login_ids), 1000):
        chunk = login_ids[start : start + 1000]
        ended.update(
            db.session.scalars(
                sa.select(LoginSession.id).where(
                    LoginSession.id.in_(chunk),
                    sa.or_(
                        LoginSession.ended_at.is_not(None),
                        LoginSession.created_at < oldest_open,
                    ),
                )
            )
        )
    return ended


def forget_old() -> int:
    """Delete sessions that ended, or ran out, more than a day ago (run by the live
    hub's upkeep; the caller commits). The day's grace changes nothing for the cookie
    (an ended row opens no session either way); it only keeps recent log-outs to look
    at. Returns how many rows went."""
    cutoff = utcnow() - KEEP_ENDED
    return db.session.execute(
        sa.delete(LoginSession)
        .where(
            sa.or_(
                LoginSession.ended_at < cutoff,
                LoginSession.created_at < cutoff - lifetime(),
            )
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def signed_in_user() -> User:
    """The signed-in person (or Flask-Login's anonymous user) itself rather than the
    ``current_user`` proxy: every attribute read through the proxy looks the user up
    again, and the rules ask a dozen of them per check, several checks per page.
    Once Flask-Login has loaded the user for this request it keeps it as
    ``g._login_user``, read here directly: the proxy's look-up is some fifteen calls,
    and a page asks four to six times."""
    ctx = _cv_app.get(None)
    user = getattr(ctx.g, "_login_user", None) if ctx is not None else None
    return user if user is not None else current_user._get_current_object()
