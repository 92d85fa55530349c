"""gunicorn settings for Liveroom run from the repository: ``gunicorn wsgi:app`` reads
this file. The settings live in the package, liveroom/gunicorn_conf.py, so that an
installed Liveroom has them too (``gunicorn -c python:liveroom.gunicorn_conf
liveroom.wsgi:app``, as deploy/liveroom.service runs it): change them there.
"""

from liveroom.gunicorn_conf import *  # noqa: F403
