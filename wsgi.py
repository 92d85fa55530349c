"""Entry point for gunicorn from the repository: ``gunicorn wsgi:app``."""

from liveroom.wsgi import app

__all__ = ["app"]
