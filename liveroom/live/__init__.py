"""Real-time delivery: the per-process hub and the Server-Sent Events stream.

The blueprint is defined here and ``routes.py`` (the stream) imports it.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("live", __name__, url_prefix="/live")


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app.

    The route modules are imported when the app is built, not at the bottom of this
    file: the app factory imports ``hub`` on its own, and the stream's views import
    from rooms, whose modules must not depend on this package's import order.
    """
    from liveroom.live import routes, status  # noqa: F401  (their views attach to bp)

    app.register_blueprint(bp)
