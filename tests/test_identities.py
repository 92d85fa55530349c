"""Accounts that sign in through a school's identity provider or LMS
(liveroom/auth/identities.py): found by issuer and subject, never by email; made once
on the first sign-in, even when two arrive at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom import accounts
from liveroom.auth.identities import IdentityRefused, sign_in_identity
from liveroom.extensions import db
from liveroom.models import SignInIdentity, User
from liveroom.roles import AppRole
from tests.conftest import PASSWORD

ISSUER = "https://idp.school.example"


def sign_in(subject: str, **claims) -> User:
    claims.setdefault("display_name", "Ada Lovelace")
    claims.setdefault("email", "ada@school.example")
    claims.setdefault("username_hint", None)
    return sign_in_identity("oidc", claims.pop("issuer", ISSUER), subject, **claims)


def test_first_sign_in_makes_an_account_with_the_default_role_and_no_password(app, world):
    world.settings(defaultApplicationRole="privateOnlyRole")
    with app.app_context():
        user = sign_in("sub-1", username_hint="Ada Lovelace")
        assert user.username == "adalovelace"
        assert user.display_name == "Ada Lovelace"
        assert user.email == "ada@school.example"
        assert user.role is AppRole.from_key("privateOnlyRole")
        assert accounts.uses_single_sign_on(user)
        identity = db.session.scalar(sa.select(SignInIdentity))
        assert (identity.user_id, identity.kind, identity.subject) == (user.id, "oidc", "sub-1")
    # Nobody logs in to it with the local form, whatever they type.
    response = app.test_client().post(
        "/login", data={"username": "adalovelace", "password": "!" + PASSWORD}
    )
    assert response.status_code == 401


def test_returning_person_is_found_by_issuer_and_subject_never_by_email(app, world):
    world.user("ada")  # a local account with the same address
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "ada").values(email="ada@school.example")
        )
        db.session.commit()
        first = sign_in("sub-1", username_hint="ada")
        assert first.username == "ada-2"  # the local one keeps its name and is not matched
        again = sign_in("sub-1", email="ada.l@school.example", display_name="Someone Else")
        assert again.id == first.id
        assert again.email == "ada.l@school.example"  # the directory's record follows
        assert again.display_name == "Ada Lovelace"  # the person's own choice stays
        other_issuer = sign_in("sub-1", issuer="https://other.example", username_hint="ada")
        assert other_issuer.id != first.id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3


def test_usernames_come_from_the_hint_then_email_then_subject(app):
    with app.app_context():
        assert sign_in("s1", username_hint="  Bob Smith\u200b ").username == "bobsmith"
        assert sign_in("s2", email="Carol@school.example").username == "carol"
        assert sign_in("s3", email=None, display_name=None).username == "s3"
        assert sign_in("s4", email=None, display_name=None).display_name == "s4"
        # Entra ID's preferred_username is an address: its domain is left out.
        assert sign_in("s5", username_hint="Grace.H@school.example").username == "grace.h"


def test_a_deactivated_account_is_refused(app, world):
    with app.app_context():
        user = sign_in("sub-1")
        accounts.deactivate(user, None)
        with pytest.raises(IdentityRefused, match="deactivated"):
            sign_in("sub-1")


def test_the_given_role_is_used_at_creation_only(app):
    with app.app_context():
        user = sign_in("sub-1", role=AppRole.ADMIN)
        assert user.role is AppRole.ADMIN
        accounts.set_role(user, AppRole.VIEWER, None)
        db.session.commit()
        assert sign_in("sub-1", role=AppRole.ADMIN).role is AppRole.VIEWER
