"""The learning platforms an admin registered, as pylti1p3 asks for them
(``ToolConf``), and as the admin edits them (``save_platform``, ``remove_platform``).

Addresses must be https. Plain http is accepted only for this machine's own names
(localhost, 127.0.0.1, ::1): a platform on the same machine, in development and in
the tests; anywhere else a key set fetched over http could be swapped on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import gettext as _
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from liveroom import audit, freshness
from liveroom.extensions import db
from liveroom.lti import keys
from liveroom.models import LtiPlatform, User

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
NAME_MAX = 100
ISSUER_MAX = 200
CLIENT_ID_MAX = 54
URL_MAX = 500
DEPLOYMENT_MAX = 255


class PlatformError(ValueError):
    """The registration cannot be saved; ``field`` names the form field to mark."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_url(field: str, raw: str, *, origin_only: bool = False) -> str:
    """An https address (http for this machine's own names); PlatformError if not."""
    url = (raw or "").strip()
    if not url:
        raise PlatformError(field, _("Enter the address."))
    if len(url) > URL_MAX or any(c.isspace() for c in url):
        raise PlatformError(field, _("Enter one address of at most 500 characters."))
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError:
        raise PlatformError(field, _("“%(url)s” is not a web address.", url=url)) from None
    if parts.scheme not in ("https", "http") or not host:
        raise PlatformError(
            field,
            _("Enter a full address starting with https://, such as https://lms.example.org."),
        )
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise PlatformError(
            field, _("The address must start with https:// (plain http only for localhost).")
        )
    if origin_only and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise PlatformError(
            field, _("Enter a site's address only, such as https://school.instructure.com.")
        )
    return url


@dataclass
class PlatformFields:
    """A registration as the admin typed it."""

    name: str = ""
    issuer: str = ""
    client_id: str = ""
    auth_login_url: str = ""
    auth_token_url: str = ""
    key_set_url: str = ""
    deployment_ids: str = ""
    frame_origins: str = ""


def _lines(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in (text or "").splitlines() if line.strip()))


def clean(fields: PlatformFields) -> PlatformFields:
    """The fields as stored; PlatformError for the first one that cannot be."""
    name = " ".join((fields.name or "").split())
    if not name or len(name) > NAME_MAX:
        raise PlatformError("name", _("Enter a name of 1 to 100 characters, such as “Moodle”."))
    issuer = (fields.issuer or "").strip()
    if len(issuer) > ISSUER_MAX:
        raise PlatformError("issuer", _("The issuer can be at most 200 characters."))
    issuer = check_url("issuer", issuer)
    client_id = (fields.client_id or "").strip()
    if not client_id or len(client_id) > CLIENT_ID_MAX or any(c.isspace() for c in client_id):
        raise PlatformError(
            "client_id", _("Enter the client id the platform gave (at most 54 characters).")
        )
    deployments = _lines(fields.deployment_ids)
    if not deployments:
        raise PlatformError("deployment_ids", _("Enter at least one deployment id, one a line."))
    if any(len(d) > DEPLOYMENT_MAX for d in deployments):
        raise PlatformError("deployment_ids", _("A deployment id can be at most 255 characters."))
    frames = [
        check_url("frame_origins", line, origin_only=True) for line in _lines(fields.frame_origins)
    ]
    return PlatformFields(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=check_url("auth_login_url", fields.auth_login_url),
        auth_token_url=check_url("auth_token_url", fields.auth_token_url),
        key_set_url=check_url("key_set_url", fields.key_set_url),
        deployment_ids="\n".join(deployments),
        frame_origins="\n".join(origin_of(url) for url in frames),
    )


def all_platforms() -> list[LtiPlatform]:
    return list(
        db.session.scalars(sa.select(LtiPlatform).order_by(LtiPlatform.name, LtiPlatform.id))
    )


def find(issuer: str, client_id: str) -> LtiPlatform | None:
    if not issuer or not client_id:
        return None
    return db.session.scalar(
        sa.select(LtiPlatform).where(
            LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id
        )
    )


def save_platform(platform: LtiPlatform | None, fields: PlatformFields, actor: User) -> LtiPlatform:
    """Register a platform (``platform`` None) or change one, and commit."""
    cleaned = clean(fields)
    same = find(cleaned.issuer, cleaned.client_id)
    if same is not None and (platform is None or same.id != platform.id):
        raise PlatformError(
            "client_id",
            _("%(name)s already has this issuer and client id.", name=same.name),
        )
    created = platform is None
    if platform is None:
        platform = LtiPlatform()
        db.session.add(platform)
    for field, value in vars(cleaned).items():
        setattr(platform, field, value)
    audit.record(
        actor.id,
        "lti_platform_registered" if created else "lti_platform_changed",
        f"{cleaned.name}: {cleaned.issuer} {cleaned.client_id}",
    )
    freshness.changed()  # the pages' frame ancestors and cookies follow
    db.session.commit()
    return platform


def remove_platform(platform: LtiPlatform, actor: User) -> None:
    """Forget a registration; its courses' channels and people's accounts stay (a
    registration of the same issuer and client id finds them again)."""
    audit.record(actor.id, "lti_platform_removed", f"{platform.name}: {platform.key}")
    db.session.delete(platform)
    freshness.changed()
    db.session.commit()


def frame_origins() -> tuple[str, ...]:
    """The origins that may frame Liveroom's pages: each platform's issuer, its
    login address and the addresses the admin listed. Remembered per worker until
    anything changes (``liveroom/freshness.py``)."""
    memory = freshness.memory()
    known = memory.recall("lti_frames", None) if memory else None
    if known is not None:
        return known
    stamp = memory.stamp() if memory else None
    origins: set[str] = set()
    rows = db.session.execute(
        sa.select(LtiPlatform.issuer, LtiPlatform.auth_login_url, LtiPlatform.frame_origins)
    )
    for issuer, login_url, extra in rows:
        origins.update(origin_of(url) for url in (issuer, login_url, *_lines(extra)))
    result = tuple(sorted(origins))
    if memory is not None:
        memory.keep("lti_frames", None, result, stamp)
    return result


class ToolConf(ToolConfAbstract):
    """pylti1p3's view of the registrations: every issuer may have several client
    ids (Canvas's cloud issuer is the same for every school)."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss, *args, **kwargs):  # noqa: ANN001, ANN201
        raise NotImplementedError

    def find_deployment(self, iss, deployment_id):  # noqa: ANN001, ANN201
        raise NotImplementedError

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):  # noqa: ANN001, ANN201
        platform = find(iss, client_id)
        if platform is None:
            return None
        key = keys.tool_key()
        return (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(key.private_pem)
            .set_tool_public_key(keys.public_pem(key))
        )

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):  # noqa: ANN001, ANN201
        platform = find(iss, client_id)
        if platform is None or not deployment_id or deployment_id not in platform.deployments:
            return None
        return Deployment().set_deployment_id(deployment_id)
