"""Signing in with the school's OpenID Connect provider (Keycloak, Entra ID, Google
Workspace...): the authorization code flow with PKCE (S256), ``state`` and ``nonce``,
through Authlib's client.

Providers come from ``LIVEROOM_OIDC_*`` variables (``providers_from_env``, read by
``liveroom/config.py``; docs/sso.md). Each one's discovery document
(``<issuer>/.well-known/openid-configuration``) is fetched on first use and again
after an hour, as is its JWKS; it must name the configured issuer. An unreachable
provider gets a page saying so, not a server error.

``/login/oidc/<provider>`` sends the browser to the provider (a plain link: a
navigation, so the Content-Security-Policy's form-action has nothing to say), with the
PKCE verifier, state and nonce kept in this browser's session. The callback exchanges
the code, validates the ID token in full (signature by a key of the provider's JWKS,
asymmetric algorithms only, ``iss``, ``aud``/``azp``, ``exp``, ``iat``, ``nonce``),
checks the allowed email domains, maps the role claim, then finds or makes the
account by issuer and subject (``auth/identities.py``) and begins the browser's
session as a password log-in does. Every refusal (consent denied, a state that is not
this browser's, an expired or reused code, a token that fails a check, an address
outside the school's domains, a deactivated account) is a page that says what
happened, and creates nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from liveroom.auth import bp
from liveroom.roles import AppRole

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"[a-z][a-z0-9]{0,31}")
DEFAULT_SCOPES = "openid email profile"
# Discovery and JWKS are fetched again after this long (a provider's new signing key
# is also found at once: an unknown key id fetches the JWKS again).
METADATA_SECONDS = 3600
# Seconds allowed for one request to the provider.
PROVIDER_TIMEOUT = 10
# Clock skew allowed on exp and iat (seconds).
LEEWAY = 60
# ID tokens are checked with the provider's public keys: no "none", no HMAC.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
NEXT_KEY = "oidc_next"


@dataclass(frozen=True)
class OidcProvider:
    """One configured provider; ``key`` names it in URLs and variables."""

    key: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    scopes: str = DEFAULT_SCOPES
    # A claim whose value (a string or a list of them; "a.b" for a nested one) gives
    # the role of a new account through role_map: (claim value, role), first wins
    # among equals, the highest role among several values.
    role_claim: str | None = None
    role_map: tuple[tuple[str, AppRole], ...] = ()
    # Lower-case domains; empty: everyone the provider signs in.
    allowed_domains: tuple[str, ...] = ()


def _loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _role_map(variable: str, raw: str) -> tuple[tuple[str, AppRole], ...]:
    """``value=roleKey,value=roleKey`` (split at the last "=", so a value may hold
    one), or a JSON object {"value": "roleKey"} for values with commas in them."""
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("{"):
        try:
            pairs = json.loads(raw)
        except ValueError:
            pairs = None
        if not isinstance(pairs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
        ):
            raise RuntimeError(f'{variable} must be a JSON object like {{"teacher": "viewerRole"}}')
        items = list(pairs.items())
    else:
        items = []
        for entry in raw.split(","):
            value, equals, role = entry.strip().rpartition("=")
            if not equals or not value.strip():
                raise RuntimeError(
                    f"{variable} must list claim values and roles like "
                    f"teacher=viewerRole,staff=adminRole, not '{entry.strip()}'"
                )
            items.append((value.strip(), role.strip()))
    mapped = []
    for value, role in items:
        try:
            mapped.append((value, AppRole.from_key(role)))
        except ValueError as error:
            raise RuntimeError(f"{variable}: {error}") from None
    return tuple(mapped)


def providers_from_env(environ: Mapping[str, str]) -> tuple[OidcProvider, ...]:
    """The providers ``LIVEROOM_OIDC_PROVIDERS`` names, each from its
    ``LIVEROOM_OIDC_<NAME>_*`` variables; RuntimeError naming a missing or bad one."""
    names = [n.strip() for n in environ.get("LIVEROOM_OIDC_PROVIDERS", "").split(",")]
    names = [n for n in names if n]
    providers = []
    for key in names:
        if not KEY_PATTERN.fullmatch(key):
            raise RuntimeError(
                "LIVEROOM_OIDC_PROVIDERS must list short names of lower-case letters and "
                f"digits (1 to 32, a letter first), such as school, not '{key}'"
            )
        if key in (p.key for p in providers):
            raise RuntimeError(f"LIVEROOM_OIDC_PROVIDERS names '{key}' twice")
        prefix = f"LIVEROOM_OIDC_{key.upper()}_"

        def value(name: str, default: str | None = None, key: str = key) -> str:
            raw = environ.get(f"LIVEROOM_OIDC_{key.upper()}_{name}", "").strip()
            if raw:
                return raw
            if default is None:
                raise RuntimeError(
                    f"LIVEROOM_OIDC_{key.upper()}_{name} must be set for the provider "
                    f"'{key}' in LIVEROOM_OIDC_PROVIDERS (docs/sso.md)"
                )
            return default

        issuer = value("ISSUER").rstrip("/")
        parts = urlsplit(issuer)
        secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))
        if not secure or not parts.hostname or parts.query or parts.fragment:
            raise RuntimeError(
                f"{prefix}ISSUER must be the provider's https:// issuer address, not '{issuer}'"
            )
        scopes = value("SCOPES", DEFAULT_SCOPES)
        if "openid" not in scopes.split():
            raise RuntimeError(f"{prefix}SCOPES must include openid, not '{scopes}'")
        role_claim = environ.get(prefix + "ROLE_CLAIM", "").strip() or None
        role_map = _role_map(prefix + "ROLE_MAP", environ.get(prefix + "ROLE_MAP", ""))
        if role_map and not role_claim:
            raise RuntimeError(f"{prefix}ROLE_CLAIM must be set with {prefix}ROLE_MAP")
        domains = environ.get(prefix + "ALLOWED_DOMAINS", "").replace(",", " ").split()
        domains = tuple(d.lower().lstrip("@") for d in domains)
        bad = [d for d in domains if not re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+", d)]
        if bad:
            raise RuntimeError(
                f"{prefix}ALLOWED_DOMAINS must list domains like school.example, not '{bad[0]}'"
            )
        providers.append(
            OidcProvider(
                key=key,
                issuer=issuer,
                client_id=value("CLIENT_ID"),
                client_secret=value("CLIENT_SECRET"),
                name=value("NAME", key.title()),
                scopes=scopes,
                role_claim=role_claim,
                role_map=role_map,
                allowed_domains=domains,
            )
        )
    return tuple(providers)


def configured_providers() -> tuple[OidcProvider, ...]:
    return tuple(current_app.config.get("LIVEROOM_OIDC_PROVIDERS", ()))


def provider_named(key: str) -> OidcProvider | None:
    return next((p for p in configured_providers() if p.key == key), None)


# --- Authlib's client, one per provider and app ------------------------------------


class ProviderUnusable(Exception):
    """The provider cannot be used now: unreachable, or its discovery document is
    wrong (``misconfigured``). The message is for the log; people get a page of their
    own."""

    def __init__(self, message: str, misconfigured: bool = False) -> None:
        super().__init__(message)
        self.misconfigured = misconfigured


def init_app(app: Flask) -> None:
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    for provider in app.config.get("LIVEROOM_OIDC_PROVIDERS", ()):
        oauth.register(
            f"oidc_{provider.key}",
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "default_timeout": PROVIDER_TIMEOUT,
            },
        )
    app.extensions["liveroom_oidc"] = oauth


def _client(provider: OidcProvider):
    """Authlib's client for ``provider``, its discovery document loaded and checked."""
    client = current_app.extensions["liveroom_oidc"].create_client(f"oidc_{provider.key}")
    loaded_at = client.server_metadata.get("_loaded_at")
    if loaded_at is not None and time.time() - loaded_at > METADATA_SECONDS:
        client.server_metadata = {}  # discovery and JWKS again
    if "_loaded_at" in client.server_metadata:
        return client
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        client.server_metadata = {}
        raise ProviderUnusable(f"discovery failed: {error}") from None
    problem = None
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer:
        problem = f"its discovery document names the issuer {metadata.get('issuer')!r}"
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(endpoint), str):
            problem = f"its discovery document has no {endpoint}"
    if problem:
        client.server_metadata = {}
        raise ProviderUnusable(problem, misconfigured=True)
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [
        alg for alg in offered if alg in ASYMMETRIC_ALGORITHMS
    ] or ["RS256"]
    return client


# --- Pages --------------------------------------------------------------------------


def _failed(
    provider: OidcProvider, status: int, message: str, *, again: bool = True
) -> tuple[str, int]:
    return render_template(
        "auth/sign_in_failed.html",
        provider=provider,
        message=message,
        again=again,
        next=session.get(NEXT_KEY),
    ), status


def _unreachable(provider: OidcProvider, error: Exception) -> tuple[str, int]:
    log.warning("OpenID provider %s (%s) cannot be used: %s", provider.key, provider.issuer, error)
    if getattr(error, "misconfigured", False):
        return _failed(
            provider,
            502,
            _(
                "Liveroom's settings for %(name)s do not match what it answers, so you "
                "cannot sign in with it. Tell your school's administrator.",
                name=provider.name,
            ),
            again=False,
        )
    return _failed(
        provider,
        502,
        _(
            "%(name)s is not answering, so you cannot sign in with it right now. Try "
            "again in a few minutes; if it goes on, tell your school's administrator.",
            name=provider.name,
        ),
    )


def _provider_or_404(key: str) -> OidcProvider:
    provider = provider_named(key)
    if provider is None:
        abort(404)
    return provider


@bp.get("/login/oidc/<provider_key>")
def oidc_start(provider_key: str) -> Response | tuple[str, int]:
    from liveroom.auth.routes import safe_next

    provider = _provider_or_404(provider_key)
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("channels.index"))
    try:
        client = _client(provider)
        session[NEXT_KEY] = target
        return client.authorize_redirect(
            url_for("auth.oidc_callback", provider_key=provider.key, _external=True)
        )
    except (ProviderUnusable, requests.RequestException) as error:
        return _unreachable(provider, error)


def _claim(claims: Mapping, path: str):
    value = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def role_from_claims(provider: OidcProvider, claims: Mapping) -> AppRole | None:
    """The role the provider's role claim maps to (the highest, for several values);
    None: the site's default."""
    if not provider.role_claim or not provider.role_map:
        return None
    value = _claim(claims, provider.role_claim)
    values = {value} if isinstance(value, str) else set(value) if isinstance(value, list) else set()
    mapped = [role for claim_value, role in provider.role_map if claim_value in values]
    return max(mapped, key=lambda role: role.rank) if mapped else None


def _domain_refusal(provider: OidcProvider, claims: Mapping) -> str | None:
    if not provider.allowed_domains:
        return None
    email = claims.get("email")
    domains = ", ".join(provider.allowed_domains)
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        return _(
            "Accounts here are for addresses at %(domains)s, and %(name)s did not give "
            "a confirmed email address for you.",
            domains=domains,
            name=provider.name,
        )
    domain = email.rsplit("@", 1)[1].lower()
    if domain not in provider.allowed_domains:
        return _(
            "Accounts here are for addresses at %(domains)s. You signed in as %(email)s: "
            "sign in with your school account instead.",
            domains=domains,
            email=email,
        )
    return None


@bp.get("/login/oidc/<provider_key>/callback")
def oidc_callback(provider_key: str) -> Response | tuple[str, int]:
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from joserfc.errors import JoseError

    from liveroom.auth import identities
    from liveroom.auth.sessions import begin_session
    from liveroom.extensions import db

    provider = _provider_or_404(provider_key)
    error = request.args.get("error")
    if error:
        state = request.args.get("state")
        if state:  # the flow is over: its verifier and nonce go
            session.pop(f"_state_oidc_{provider.key}_{state}", None)
        if error == "access_denied":
            return _failed(
                provider,
                403,
                _(
                    "You did not allow Liveroom to know who you are at %(name)s, so you "
                    "are not signed in.",
                    name=provider.name,
                ),
            )
        log.warning("OpenID provider %s answered error=%s", provider.key, error[:100])
        return _failed(
            provider,
            400,
            _(
                "%(name)s could not sign you in (it answered: %(error)s).",
                name=provider.name,
                error=error[:100],
            ),
        )
    _forget_if_stale(provider, request.args.get("state"))
    try:
        client = _client(provider)
        token = client.authorize_access_token(leeway=LEEWAY)
    except MismatchingStateError:
        return _failed(
            provider,
            400,
            _(
                "This sign-in was started in another browser or tab, or too long ago. "
                "Start again from here."
            ),
        )
    except OAuthError as refused:
        log.warning("OpenID provider %s refused the code: %s", provider.key, refused)
        return _failed(
            provider,
            400,
            _(
                "%(name)s did not accept this sign-in: it took too long, or the link was "
                "used twice. Start again from here.",
                name=provider.name,
            ),
        )
    except (ProviderUnusable, requests.RequestException) as unreachable:
        return _unreachable(provider, unreachable)
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as invalid:
        log.warning("OpenID provider %s sent an ID token that failed: %r", provider.key, invalid)
        return _unverified(provider)
    claims = token.get("userinfo")
    if not claims or not isinstance(claims.get("sub"), str) or not claims.get("iss"):
        log.warning("OpenID provider %s sent no usable ID token", provider.key)
        return _unverified(provider)
    if refusal := _domain_refusal(provider, claims):
        return _failed(provider, 403, refusal, again=False)
    email = claims.get("email") if claims.get("email_verified") is not False else None
    try:
        user = identities.sign_in_identity(
            "oidc",
            str(claims["iss"]),
            claims["sub"],
            display_name=identities.name_from_claims(claims),
            email=email if isinstance(email, str) else None,
            username_hint=_str(claims.get("preferred_username")),
            role=role_from_claims(provider, claims),
        )
    except identities.IdentityRefused as refused:
        return _failed(provider, 403, str(refused), again=False)
    target = session.get(NEXT_KEY)
    begin_session(user)
    db.session.commit()
    return redirect(target or url_for("channels.index"))


def _forget_if_stale(provider: OidcProvider, state: str | None) -> None:
    """A sign-in begun over an hour ago (Authlib's lifetime for its state, which it
    only enforces when another one ends) is over: its state no longer counts."""
    key = f"_state_oidc_{provider.key}_{state}"
    entry = session.get(key) if state else None
    if isinstance(entry, dict) and entry.get("exp", 0) < time.time():
        session.pop(key, None)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unverified(provider: OidcProvider) -> tuple[str, int]:
    return _failed(
        provider,
        400,
        _(
            "The answer from %(name)s could not be verified, so you are not signed in. "
            "Try again; if it goes on, tell your school's administrator.",
            name=provider.name,
        ),
    )
