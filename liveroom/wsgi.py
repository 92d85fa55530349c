"""Entry point for gunicorn: ``gunicorn liveroom.wsgi:app`` (an installed Liveroom)."""

from liveroom import create_app

app = create_app()
