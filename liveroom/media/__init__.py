"""Audio, video and screen sharing in the live room.

``rules.py`` decides who may publish what and who may act on whose media;
``actions.py`` changes the stored state; ``roster.py`` tells every page what is
sent; ``signals.py`` relays the browsers' negotiation; ``backend.py`` is the one
interface behind which a backend carries the media (the peer-to-peer mesh today).
The blueprint is defined here and ``routes.py`` attaches its views.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("media", __name__)


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app."""
    from liveroom.media import routes  # noqa: F401  (their views attach to bp)

    app.register_blueprint(bp)
