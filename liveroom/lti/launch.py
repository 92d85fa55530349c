"""The LTI 1.3 protocol, through pylti1p3: the login initiation and the launch.

1. The platform sends the browser to ``/lti/login`` (iss, login_hint, client_id …).
   We answer with a redirect to the platform's authorization address carrying a
   fresh ``state`` (also set as a cookie in this browser) and ``nonce`` (kept in the
   database, table ``lti_nonce``, ten minutes at most).
2. The platform posts a signed ``id_token`` and the state to ``/lti/launch``. pylti1p3
   checks the state against the cookie, takes the nonce (a delete that only one
   request can win, on any worker: a replayed token finds it gone), finds the
   registration by issuer and audience (client id), checks the signature with the
   platform's key set (fetched from its key set URL for each launch, so a rotated
   key holds at once), the expiry, the deployment and the message.

Nothing of a launch is kept in the Flask session (pylti1p3's default): a launch's
claims can outgrow a cookie, and Liveroom acts on them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import requests
import sqlalchemy as sa
from flask import Response, request
from flask_babel import gettext as _
from pylti1p3.contrib.flask import (
    FlaskCookieService,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.session import SessionService

from liveroom.extensions import db
from liveroom.lti.frames import cookie_options
from liveroom.lti.platforms import ToolConf
from liveroom.models import LtiNonce, utcnow

NONCE_LIFETIME = timedelta(minutes=10)
# How long the platform's key set may take to arrive.
KEY_SET_TIMEOUT = 10
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


class LaunchRefused(Exception):
    """The launch is refused; ``title`` and the message are for the person."""

    def __init__(self, title: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.title = title
        self.status = status


class NonceStore(SessionService):
    """pylti1p3's session service with the nonces in the database (every worker sees
    them, and each is taken once) and nothing in the cookie."""

    def save_nonce(self, nonce: str) -> None:
        now = utcnow()
        db.session.execute(sa.delete(LtiNonce).where(LtiNonce.expires_at < now))
        db.session.add(LtiNonce(value=nonce[:64], expires_at=now + NONCE_LIFETIME))
        db.session.commit()

    def check_nonce(self, nonce: str) -> bool:
        taken = db.session.execute(
            sa.delete(LtiNonce).where(LtiNonce.value == nonce, LtiNonce.expires_at > utcnow())
        ).rowcount
        db.session.commit()
        return taken == 1

    def save_launch_data(self, key, jwt_body) -> None:  # noqa: ANN001
        pass

    def get_launch_data(self, key):  # noqa: ANN001, ANN201
        return None

    def save_state_params(self, state, params) -> None:  # noqa: ANN001
        pass

    def get_state_params(self, state):  # noqa: ANN001, ANN201
        return {}

    def set_state_valid(self, state, id_token_hash) -> None:  # noqa: ANN001
        pass

    def check_state_is_valid(self, state, id_token_hash) -> bool:  # noqa: ANN001
        return False


class StateCookies(FlaskCookieService):
    """The state cookie, with the attributes that let it work inside the frame."""

    def update_response(self, response: Response) -> None:
        for key, data in self._cookie_data_to_set.items():
            response.set_cookie(
                key, data["value"], max_age=data["exp"], path="/", **cookie_options()
            )


class KeySetSession(requests.Session):
    """Fetching a key set never hangs a worker."""

    def request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        kwargs.setdefault("timeout", KEY_SET_TIMEOUT)
        return super().request(*args, **kwargs)


def _services() -> tuple[FlaskRequest, NonceStore, StateCookies]:
    lti_request = FlaskRequest()
    return lti_request, NonceStore(lti_request), StateCookies(lti_request)


def redirect_to_platform(launch_url: str) -> Response:
    """Step 1: the redirect to the platform's authorization address."""
    lti_request, store, cookies = _services()
    login = FlaskOIDCLogin(lti_request, ToolConf(), session_service=store, cookie_service=cookies)
    try:
        return login.redirect(launch_url)
    except OIDCException as error:
        raise refusal(str(error)) from None


@dataclass(frozen=True)
class Launch:
    """What a valid resource-link launch says."""

    issuer: str
    client_id: str
    claims: dict

    def claim(self, name: str, default: object = None) -> object:
        return self.claims.get(LTI + name, default)


def validated_launch() -> Launch:
    """Step 2: the launch, checked by pylti1p3; LaunchRefused with a clear reason."""
    lti_request, store, cookies = _services()
    message = FlaskMessageLaunch(
        lti_request,
        ToolConf(),
        session_service=store,
        cookie_service=cookies,
        requests_session=KeySetSession(),
    )
    # PyJWT checks the expiry (and not-before) when present: here they must be.
    message.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
    try:
        claims = message.get_launch_data()
        resource = message.is_resource_launch()
    except LtiException as error:
        raise refusal(str(error)) from None
    if not resource:
        raise LaunchRefused(
            _("Only course links can open Liveroom"),
            _("Add Liveroom to your course as an activity or a link, then open it from there."),
        )
    return Launch(message.get_iss(), message.get_client_id(), dict(claims))


def refusal(reason: str) -> LaunchRefused:
    """pylti1p3's reason, in words a teacher can act on."""
    again = _("Open Liveroom from your course again.")
    admin = _("If it happens again, show this page to your school's administrator.")
    if reason in ("Invalid Nonce", '"nonce" is empty'):
        return LaunchRefused(
            _("This launch was used already"),
            _("Each launch from your course works once, within ten minutes.") + " " + again,
        )
    if reason in ("State not found", "Missing state param") or reason.startswith("Missing %s"):
        return LaunchRefused(
            _("Your browser did not keep Liveroom's cookie"),
            _(
                "The launch came back to a browser that had not started it, or one that "
                "blocks cookies inside the course page."
            )
            + " "
            + again,
        )
    if reason in (
        "Registration not found.",
        "Client id not registered for this issuer",
        "Could not find registration details",
        "Could not find issuer",
    ):
        return LaunchRefused(
            _("This learning platform is not registered"),
            _(
                "Liveroom does not know the platform (issuer and client id) this launch "
                "came from. An administrator registers it under Administration, LTI platforms."
            ),
            403,
        )
    if reason == "Unable to find deployment":
        return LaunchRefused(
            _("This deployment is not registered"),
            _(
                "The platform is registered, but not the deployment this launch came "
                "from. An administrator adds its deployment id under Administration, "
                "LTI platforms."
            ),
            403,
        )
    if reason in ("Unable to find public key", "JWT KID not found", "JWT ALG not found"):
        return LaunchRefused(
            _("The launch was signed with an unknown key"),
            _("The platform's key set has no key with the id this launch was signed with.")
            + " "
            + admin,
            403,
        )
    if reason.startswith("Error during fetch URL") or reason.startswith("Invalid response"):
        return LaunchRefused(
            _("Liveroom could not read the platform's keys"),
            _("The platform's key set URL did not answer with its keys.") + " " + admin,
            502,
        )
    if "Signature has expired" in reason:
        return LaunchRefused(_("This launch has expired"), _("It took too long.") + " " + again)
    if reason.startswith("Can't decode id_token") or reason.startswith("Invalid"):
        return LaunchRefused(
            _("The launch's signature is not valid"),
            _("Liveroom cannot trust this launch.") + " " + admin,
            403,
        )
    if reason == "Could not find login hint":
        return LaunchRefused(
            _("The platform sent an incomplete login"),
            _("The login initiation had no login_hint.") + " " + admin,
        )
    return LaunchRefused(
        _("This launch cannot be used"),
        _("The platform sent a launch Liveroom cannot use (%(reason)s).", reason=reason)
        + " "
        + admin,
    )


def login_params() -> dict[str, str]:
    """The login initiation's parameters, to carry through the cookie check."""
    names = (
        "iss",
        "login_hint",
        "target_link_uri",
        "lti_message_hint",
        "lti_deployment_id",
        "client_id",
    )
    return {name: request.values[name] for name in names if request.values.get(name)}
