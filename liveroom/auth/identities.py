"""Accounts that sign in through someone else: a school's identity provider (OpenID
Connect, ``kind`` "oidc") or its learning platform (LTI 1.3, "lti").

A person there is named by the issuer (the provider's URL) and a subject (its id for
them, stable and never reused). ``sign_in_identity`` finds the account with that pair
or makes one; it never matches by email, which anybody can type into a provider's
profile, so two providers (or a provider and an admin-made account) with the same
address stay two people.

A returning person's email follows the provider (the school's directory is the record
of it, and it is never used to match anyone); their display name does not: they may
have chosen another on their Account page, or an admin may have renamed them, and a
sign-in must not undo that. The role is given once, at creation: an admin's later
change stays.

Accounts made here have no password (an unusable hash, ``UNUSABLE_PREFIX``): nobody
logs in to them with the local form, and ``accounts.uses_single_sign_on`` tells the
Account page and the admin's reset that there is none to change.

Two first sign-ins of one person at once (two tabs, a double click) make one account:
the unique (issuer, subject) and username constraints refuse the second insert, which
then reads the winner's row.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Mapping

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from liveroom import accounts, audit
from liveroom.extensions import db
from liveroom.models import SignInIdentity, User, utcnow
from liveroom.roles import AppRole

log = logging.getLogger(__name__)

# A stored password hash that no password matches (werkzeug's hashes are
# "method$salt$hash"; this has no "$").
UNUSABLE_PREFIX = "!"
KINDS = ("oidc", "lti")
EMAIL_MAX = 254
ISSUER_MAX = 255
SUBJECT_MAX = 255
# Attempts at a free username before giving up (each collision adds a number).
USERNAME_TRIES = 20


class IdentityRefused(Exception):
    """The sign-in is refused; the message says why, in the person's words."""


def unusable_password_hash() -> str:
    return UNUSABLE_PREFIX + secrets.token_hex(16)


def has_usable_password(user: User) -> bool:
    return not (user.password_hash or UNUSABLE_PREFIX).startswith(UNUSABLE_PREFIX)


def identities_of(user_id: int) -> list[SignInIdentity]:
    return list(
        db.session.scalars(
            sa.select(SignInIdentity)
            .where(SignInIdentity.user_id == user_id)
            .order_by(SignInIdentity.created_at, SignInIdentity.id)
        )
    )


def _username_base(*hints: str | None) -> str:
    """The first hint that makes a username: NFC, lower case, without spaces or
    invisible characters or an email's domain (Entra ID's preferred_username is an
    address), short enough to take a number after it."""
    for hint in hints:
        if not hint:
            continue
        text = unicodedata.normalize("NFC", hint.partition("@")[0]).lower()
        text = "".join(c for c in text if unicodedata.category(c)[0] not in "CZ")
        text = text[: accounts.USERNAME_MAX - 4]
        try:
            return accounts.clean_username(text)
        except accounts.AccountError:
            continue
    return "user"


def _candidates(base: str):
    yield base
    for n in range(2, USERNAME_TRIES + 1):
        yield f"{base}-{n}"
    yield f"{base[: accounts.USERNAME_MAX - 9]}-{secrets.token_hex(4)}"


def _free_username(base: str) -> str:
    for candidate in _candidates(base):
        if not accounts.username_taken(candidate):
            return candidate
    raise IdentityRefused(
        "We could not choose a username for your new account. Ask your school's administrator."
    )


def _clean_email(email: str | None) -> str | None:
    if not email:
        return None
    email = email.strip()
    if "@" not in email or len(email) > EMAIL_MAX or any(c.isspace() for c in email):
        return None
    return email


def _display_name(display_name: str | None, email: str | None, username: str) -> str:
    for candidate in (display_name, (email or "").split("@")[0], username):
        try:
            return accounts.clean_display_name((candidate or "")[: accounts.DISPLAY_NAME_MAX])
        except accounts.AccountError:
            continue
    return username[: accounts.DISPLAY_NAME_MAX]


def _find(issuer: str, subject: str) -> tuple[SignInIdentity, User] | None:
    row = db.session.execute(
        sa.select(SignInIdentity, User)
        .join(User, User.id == SignInIdentity.user_id)
        .where(SignInIdentity.issuer == issuer, SignInIdentity.subject == subject)
    ).first()
    return (row[0], row[1]) if row else None


def _returning(identity: SignInIdentity, user: User, email: str | None) -> User:
    if user.deactivated_at is not None:
        db.session.rollback()
        raise IdentityRefused(_("This account is deactivated. Ask your school's administrator."))
    identity.last_used_at = utcnow()
    if email and email != user.email:
        user.email = email
    db.session.commit()
    return user


def sign_in_identity(
    kind: str,
    issuer: str,
    subject: str,
    *,
    display_name: str | None,
    email: str | None,
    username_hint: str | None,
    role: AppRole | None = None,
) -> User:
    """The account of (``issuer``, ``subject``), made on the first sign-in.

    Returning: ``last_used_at`` and the email follow. First time: a new account (a
    free username from ``username_hint``, else the email's local part, else the
    subject; the role given, else the site's ``defaultApplicationRole``; no password)
    and its identity row. Commits (the caller's session must hold no pending change);
    the caller then begins the browser's session. ``IdentityRefused`` for a
    deactivated account or an unusable issuer or subject.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of sign-in identity: {kind!r}")
    if not issuer or len(issuer) > ISSUER_MAX or not subject or len(subject) > SUBJECT_MAX:
        raise IdentityRefused(
            _(
                "The sign-in service sent an account this site cannot use. "
                "Ask your school's administrator."
            )
        )
    email = _clean_email(email)
    base = _username_base(username_hint, (email or "").split("@")[0], subject)
    for _attempt in range(USERNAME_TRIES):
        found = _find(issuer, subject)
        if found is not None:
            return _returning(*found, email)
        username = _free_username(base)
        user = User(
            username=username,
            display_name=_display_name(display_name, email, username),
            password_hash=unusable_password_hash(),
            role=role or accounts.default_role(),
            email=email,
        )
        db.session.add(user)
        try:
            db.session.flush()
            db.session.add(
                SignInIdentity(user_id=user.id, kind=kind, issuer=issuer, subject=subject)
            )
            # Their own doing: the first sign-in made it.
            audit.record(user.id, "user_created", f"{username}: {user.role.value} ({kind} sign-in)")
            db.session.commit()
        except IntegrityError:
            # Someone else took the username, or this very person signed in at the
            # same moment in another tab: read again.
            db.session.rollback()
            log.info("a first sign-in met another at once (username %s): reading again", username)
            continue
        return user
    raise IdentityRefused(_("Too many people are signing in at once. Wait a moment and try again."))


def name_from_claims(claims: Mapping) -> str | None:
    """A person's name as an ID token states it (OpenID Connect and LTI alike): ``name``,
    else ``given_name`` and ``family_name``; None when it states none."""
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(part for part in parts if isinstance(part, str) and part.strip())
    return joined or None
