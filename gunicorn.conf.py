"""gunicorn settings for Liveroom: ``gunicorn wsgi:app`` reads this file."""

import multiprocessing
import os

bind = os.environ.get("LIVEROOM_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("LIVEROOM_WORKERS", min(4, multiprocessing.cpu_count())))
# Threads let one worker serve many short HTMX requests at once.
worker_class = "gthread"
threads = int(os.environ.get("LIVEROOM_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = "-"
forwarded_allow_ips = os.environ.get("LIVEROOM_FORWARDED_ALLOW_IPS", "127.0.0.1")
