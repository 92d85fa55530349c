"""Sessions that end: a logged-out cookie stays logged out, wherever it was copied.

Liveroom's session is a signed cookie, so the server keeps nothing it could delete
at log-out, and a saved copy of the cookie would go on working. Each session
therefore carries the user's session generation (``User.session_generation``) from
the moment it logged in, and every request compares it with the current one: raising
the generation ends every session of that user at once, in every browser and every
copy.

Plain "Log out" raises it too. A copy of a cookie cannot be told apart from the
original, so ending one session for good would need a record of each session on the
server (a table this release does not have); until then "Log out" errs on the safe
side and also ends the person's other sessions, exactly as "Log out everywhere" does.
A password change or a deactivation calls ``end_every_session`` as well.

Flask-Login's remember-me cookie is not issued (``login_user`` is never asked to
remember); one presented anyway restores no session, since it carries no generation.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import session
from flask_login import login_user, logout_user

from liveroom.extensions import db
from liveroom.models import User

GENERATION_KEY = "generation"


def begin_session(user: User) -> None:
    """Log ``user`` in on this browser, bound to their current session generation."""
    # Nothing from before the log-in (an old session's keys) carries over.
    session.clear()
    login_user(user)
    session[GENERATION_KEY] = user.session_generation


def is_current(user: User) -> bool:
    """Whether this request's session was started since the user's sessions last ended."""
    return session.get(GENERATION_KEY) == user.session_generation


def end_every_session(user: User) -> None:
    """End every session of ``user``, everywhere; the caller commits.

    Raised in SQL so two log-outs at once both count; the cookie of this request is
    emptied by ``end_this_session``.
    """
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(session_generation=User.session_generation + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(user, ["session_generation"])


def end_this_session() -> None:
    """Forget the log-in in this browser's cookie."""
    logout_user()
    session.clear()
