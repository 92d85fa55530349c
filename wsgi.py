"""Entry point for gunicorn: ``gunicorn wsgi:app``."""

from liveroom import create_app

app = create_app()
