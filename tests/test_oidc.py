"""Signing in with the school's OpenID Connect provider (liveroom/auth/oidc.py).

No mock of the protocol: a real provider (tests/oidc_provider.py, Authlib's server
side, an RS256 key made for this run) runs in a process of its own, and the app talks
to it over HTTP for discovery, the token and the JWKS. The test plays the browser:
the app's redirect to the provider, the provider's consent form, the redirect back.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa

from liveroom.auth.oidc import providers_from_env
from liveroom.extensions import db
from liveroom.models import AuditEntry, SignInIdentity, User
from liveroom.roles import AppRole
from tests.conftest import make_app, text_of
from tests.oidc_provider import OidcProvider


@pytest.fixture(scope="module")
def provider():
    idp = OidcProvider()
    yield idp
    idp.stop()


@pytest.fixture
def idp(provider):
    provider.misbehave("")
    yield provider
    provider.misbehave("")


def oidc_app(tmp_path, idp, **extra):
    return make_app(tmp_path, LIVEROOM_OIDC_PROVIDERS=providers_from_env(idp.env(**extra)))


@pytest.fixture
def app(tmp_path, idp):
    return oidc_app(tmp_path, idp)


def start(client, next_page: str | None = None) -> str:
    """Click "Sign in with Test School": the provider's authorize address."""
    query = f"?{urlencode({'next': next_page})}" if next_page else ""
    response = client.get(f"/login/oidc/school{query}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def consent(authorize_url: str, decision: str = "allow", **person: str) -> str:
    """Fill the provider's form: the path and query it sends the browser back to."""
    data = {
        "sub": "pupil-1",
        "name": "Ada Lovelace",
        "email": "ada@school.example",
        "preferred_username": "",
        "role": "",
        **person,
        "decision": decision,
    }
    response = requests.post(authorize_url, data=data, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["Location"])
    return f"{back.path}?{back.query}"


def sign_in(client, next_page: str | None = None, **person: str):
    return client.get(consent(start(client, next_page), **person))


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def signed_in_as(client) -> str | None:
    response = client.get("/account")
    if response.status_code != 200:
        return None
    with client.application.app_context():
        return text_of(response)


def test_the_first_sign_in_makes_an_account_with_the_default_role(app, client, world):
    world.settings(defaultApplicationRole="privateOnlyRole")
    response = sign_in(client, next_page="/account", preferred_username="ada.l")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert "Ada Lovelace" in text_of(client.get("/account"))
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert (user.username, user.display_name, user.email) == (
            "ada.l",
            "Ada Lovelace",
            "ada@school.example",
        )
        assert user.role is AppRole.PRIVATE_ONLY
        identity = db.session.scalar(sa.select(SignInIdentity))
        assert (identity.kind, identity.issuer, identity.subject) == (
            "oidc",
            app.config["LIVEROOM_OIDC_PROVIDERS"][0].issuer,
            "pupil-1",
        )
