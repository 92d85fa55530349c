"""Checking passwords without stalling the worker.

A password hash (scrypt, by design) costs about 0.15 s of CPU. Under gunicorn's gevent
workers every request of a process shares one event loop, so a hash computed on it
freezes every other page of that worker, and sixteen log-ins at once froze them for
over a second. ``hashlib.scrypt`` releases the GIL while it works, so the hash runs
in gevent's native threadpool and the loop keeps serving pages meanwhile. A
per-process limit on hashes at once (``LIVEROOM_PASSWORD_CHECKS_AT_ONCE``, 1: with a
worker per core that is a hash per core) keeps a storm of log-ins from taking more
than the cores and 32 MiB of memory per hash; the rest wait their turn, which costs
nothing. bench/login_storm.py measures it.

Outside gevent (the test client, a threaded server, the CLI) hashes run where they are
called: there is no loop to protect, and threads already run in parallel.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

_turns_guard = threading.Lock()


def _gevent_patched() -> bool:
    """True inside a gevent worker (monkey-patched), where the loop must not block."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def _semaphore() -> Any:
    """This app's turns in this process: made on first use, after gunicorn forked the
    worker and gevent patched it (a semaphore made before either would be wrong)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    pid = os.getpid()
    turns = app.extensions.get("liveroom_password_turns")
    if turns is None or turns[0] != pid:
        with _turns_guard:
            turns = app.extensions.get("liveroom_password_turns")
            if turns is None or turns[0] != pid:
                size = int(app.config["LIVEROOM_PASSWORD_CHECKS_AT_ONCE"])
                if _gevent_patched():
                    from gevent.lock import BoundedSemaphore

                    turns = (pid, BoundedSemaphore(size))
                else:
                    turns = (pid, threading.BoundedSemaphore(size))
                app.extensions["liveroom_password_turns"] = turns
    return turns[1]


@contextmanager
def turn() -> Iterator[None]:
    """Wait until this process may compute one more password hash."""
    semaphore = _semaphore()
    with semaphore:
        yield


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so "no such user" takes as long
    as a wrong password and does not tell which usernames exist."""
    return generate_password_hash("not-a-real-password")


def _off_the_loop(fn: Callable[..., bool], *args: object) -> bool:
    if _gevent_patched() and current_app.config.get("LIVEROOM_HASH_IN_THREADPOOL", True):
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against a stored hash (``None``: unknown user, always False
    after the same work; so is an unusable one). Call it inside ``turn()``."""
    # An account without a password (single sign-on: an unusable "!" hash) takes as
    # long as a wrong password too, so the log-in form does not tell them apart.
    usable = password_hash is not None and not password_hash.startswith("!")
    matched = _off_the_loop(
        check_password_hash, password_hash if usable else _dummy_hash(), password
    )
    return matched and usable
