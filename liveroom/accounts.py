"""People's accounts, as the command line and the admin area both change them:
usernames, password rules, creating, resetting, deactivating.
Nobody is deleted here: an account with history (a membership, a stay, a message, an
audit entry) must keep its name on that history, and deactivation does what a
school needs (no log-in, out of every room) and can be undone.

Low in the house: no HTTP and no command line here. A bad input raises
``AccountError`` with a sentence the admin can act on; the CLI prints it, a view shows
it beside the field.
"""

from __future__ import annotations

import secrets
import unicodedata
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from liveroom import audit
from liveroom.auth.sessions import end_every_session
from liveroom.extensions import db
from liveroom.models import Participation, User, utcnow
from liveroom.roles import AppRole

PASSWORD_MIN = 10
PASSWORD_MAX = 256
DISPLAY_NAME_MAX = 100
USERNAME_MAX = 64
# The 20,000 most common passwords of Royce Williams' list (2017, from breach
# corpora), as Django ships it (django/contrib/auth/common-passwords.txt.gz, BSD
# licence), lower-cased, one a line.
COMMON_PASSWORDS_FILE = Path(__file__).parent / "auth" / "common-passwords.txt"
# A temporary password: letters and digits nobody confuses when reading them aloud or
# copying them from a screen (no 0/O, 1/l/I, 5/S, 2/Z, 8/B).
READABLE = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"
TEMPORARY_LENGTH = 12


class AccountError(ValueError):
    """The change is refused; the message says why, in the admin's words."""


def clean_username(raw: str) -> str:
    """The stored form of a username (NFC, lower case); AccountError if it cannot be one."""
    username = unicodedata.normalize("NFC", raw.strip()).lower()
    visible = all(unicodedata.category(c)[0] not in "CZ" for c in username)
    if not username or len(username) > USERNAME_MAX or not visible:
        raise AccountError(
            _("Usernames are 1 to 64 characters without spaces or invisible characters.")
        )
    return username


def clean_display_name(raw: str) -> str:
    from liveroom.text import clean_line

    name = clean_line(raw or "")
    if not name or len(name) > DISPLAY_NAME_MAX:
        raise AccountError(_("Display names are 1 to 100 characters."))
    return name


@cache
def common_passwords() -> frozenset[str]:
    """The list of common passwords (read once per process)."""
    text = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused, or None. The same rule for everyone: the account
    page, an admin setting one, the command line."""
    if len(password) < PASSWORD_MIN:
        return ngettext(
            "Passwords need at least %(num)d character.",
            "Passwords need at least %(num)d characters.",
            PASSWORD_MIN,
        )
    if len(password) > PASSWORD_MAX:
        return ngettext(
            "Passwords are at most %(num)d character.",
            "Passwords are at most %(num)d characters.",
            PASSWORD_MAX,
        )
    lowered = password.lower()
    if lowered in common_passwords() or (username and lowered == username.lower()):
        return _("That password is too common and easy to guess. Choose another.")
    return None


def check_password_rules(password: str, username: str = "") -> None:
    problem = password_problem(password, username)
    if problem:
        raise AccountError(problem)


def temporary_password() -> str:
    """A one-time password an admin reads out or copies: 12 unambiguous characters
    (about 67 bits)."""
    while True:
        candidate = "".join(secrets.choice(READABLE) for _ in range(TEMPORARY_LENGTH))
        if password_problem(candidate) is None:
            return candidate


def default_role() -> AppRole:
    """The role of a new account when none is given (the ``defaultApplicationRole``
    setting)."""
    from liveroom.settings import stored_values

    return AppRole.from_key(stored_values()["defaultApplicationRole"])


def username_taken(username: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.username == username)) is not None


def create_user(username: str, password: str, role: AppRole, display_name: str) -> User:
    """Add an account (the caller checked the rules and commits)."""
    user = User(username=username, display_name=display_name, role=role)
    user.set_password(password)
    db.session.add(user)
    return user


def uses_single_sign_on(user: User) -> bool:
    """Accounts that sign in only through the school's single sign-on (an identity
    at its provider or LMS, and no usable password here: ``auth/identities.py`` makes
    them so) have no password here to reset or change."""
    from liveroom.auth.identities import has_usable_password
    from liveroom.models import SignInIdentity

    if has_usable_password(user):
        return False
    return (
        db.session.scalar(
            sa.select(SignInIdentity.id).where(SignInIdentity.user_id == user.id).limit(1)
        )
        is not None
    )


def admins_other_than(user: User) -> int:
    admins = [role for role in AppRole if role.is_admin]
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role.in_(admins), User.id != user.id, User.deactivated_at.is_(None))
    )


def reset_password(user: User, actor: User | None) -> str:
    """Give ``user`` a temporary password they must change at their next log-in; their
    sessions end. Returns the password (shown once, never stored). Commits."""
    password = temporary_password()
    user.set_password(password)
    user.must_change_password = True
    end_every_session(user)
    audit.record(actor.id if actor else None, "user_password_reset", f"{user.username}")
    db.session.commit()
    return password


def change_own_password(user: User, new_password: str) -> None:
    """The person chose a new password (the caller checked the current one). Their
    other browsers are signed out; the caller begins this browser's session again."""
    check_password_rules(new_password, user.username)
    user.set_password(new_password)
    user.must_change_password = False
    end_every_session(user)
    audit.record(user.id, "password_changed", f"{user.username}")


def deactivate(user: User, actor: User | None) -> int:
    """No more log-in: every session ends (every worker notices: ``freshness``) and
    every live meeting they are in loses them at once, as when their access goes
    (their page hears its session ended and reloads to the log-in page), and their
    requests to enter a locked one are withdrawn. Returns how many meetings they
    left. Commits."""
    from liveroom.rooms.meetings import close_stay

    user.deactivated_at = utcnow()
    end_every_session(user)
    stays = list(
        db.session.scalars(
            sa.select(Participation).where(
                Participation.user_id == user.id, Participation.left_at.is_(None)
            )
        )
    )
    left = sum(close_stay(stay, "no_access") for stay in stays)
    _stop_waiting_everywhere(user)
    audit.record(actor.id if actor else None, "user_deactivated", f"{user.username}")
    db.session.commit()
    return left


def _stop_waiting_everywhere(user: User) -> None:
    """Their requests to enter locked meetings are withdrawn, so no instructor admits
    an account that can no longer sign in (the waiting lists update at once)."""
    from liveroom import events
    from liveroom.events import Kind
    from liveroom.models import LiveSession, WaitingEntry

    waiting = db.session.execute(
        sa.select(WaitingEntry.id, WaitingEntry.session_id, LiveSession.room_id)
        .join(LiveSession, LiveSession.id == WaitingEntry.session_id)
        .where(WaitingEntry.user_id == user.id, WaitingEntry.decision.is_(None))
    ).all()
    for entry_id, session_id, room_id in waiting:
        db.session.execute(
            sa.update(WaitingEntry)
            .where(WaitingEntry.id == entry_id)
            .values(decision="withdrawn", decided_at=utcnow())
        )
        events.append(room_id, Kind.WAITING_CHANGED, session_id, user_id=user.id)


def reactivate(user: User, actor: User | None) -> None:
    user.deactivated_at = None
    audit.record(actor.id if actor else None, "user_reactivated", f"{user.username}")
    db.session.commit()


def rename(user: User, display_name: str, actor: User | None) -> bool:
    """Change the name shown to others; their open stays' sort names follow, so the
    people list stays in order. Returns whether it changed (the caller commits)."""
    from liveroom.models import sort_name_of

    name = clean_display_name(display_name)
    if name == user.display_name:
        return False
    before, user.display_name = user.display_name, name
    db.session.execute(
        sa.update(Participation)
        .where(Participation.user_id == user.id, Participation.left_at.is_(None))
        .values(sort_name=sort_name_of(name))
    )
    audit.record(actor.id if actor else None, "user_renamed", f"{user.username}: {before} → {name}")
    return True


def set_role(user: User, role: AppRole, actor: User | None) -> bool:
    """Change the application role (the caller asked the policy and commits, then calls
    ``follow_roles`` so a meeting they are in follows at once)."""
    if role is user.role:
        return False
    before, user.role = user.role, role
    audit.record(
        actor.id if actor else None,
        "user_role_changed",
        f"{user.username}: {before.value} → {role.value}",
    )
    return True
