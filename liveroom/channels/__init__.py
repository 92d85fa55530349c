"""Channels: the list, and a channel's page with its room's meeting box and members.

The blueprint is defined here and ``routes.py`` imports it; who may see what is
``policy.py``.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import login_required

bp = Blueprint("channels", __name__, url_prefix="/channels")


@bp.before_request
@login_required
def require_login() -> None:
    """Channels are for signed-in people only."""


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app.

    The route modules are imported when the app is built, not at the bottom of this
    file: ``rooms.policy`` imports ``channels.policy``, and the channel page imports
    from rooms, so an import here would run in a circle.
    """
    from liveroom.channels import members, routes  # noqa: F401  (their views attach to bp)

    app.register_blueprint(bp)
