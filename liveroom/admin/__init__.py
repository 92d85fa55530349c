"""Admin: the Live Room settings. The blueprint is defined here and ``routes.py``
imports it; every admin URL is for the site's administrators only."""

from __future__ import annotations

from flask import Blueprint, Flask, abort
from flask_babel import gettext as _
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_admin() -> None:
    """Only administrators get past here (others see 403 with the reason)."""
    if not current_user.role.is_admin:
        abort(403, _("Only administrators can change Liveroom's settings."))


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app (the route
    modules are imported when the app is built, as in every area: see
    ``liveroom/rooms/__init__.py``)."""
    from liveroom.admin import (  # noqa: F401  (their views attach to bp)
        audit_log,
        channels,
        imports,
        live_now,
        lti,
        routes,
        users,
    )

    app.register_blueprint(bp)
