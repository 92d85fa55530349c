"""Redis pub/sub wake-ups between processes (used when LIVEROOM_REDIS_URL is set).

Redis carries only "there is something new"; the event log in the database stays the
source of truth. Watchers read nothing on a timer when Redis is set, so a subscription
that was lost looks at the log once when it is back, to catch what it missed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)
CHANNEL = "liveroom:events"


class RedisBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.closed = False
        self.pubsub = None

    def publish(self) -> None:
        try:
            self.client.publish(CHANNEL, b"1")
        except redis.RedisError:
            # The other processes find the event with their next wake-up.
            log.warning("redis publish failed; other workers see the event with the next one")

    def listen(self, wake: Callable[[], None]) -> None:
        threading.Thread(
            target=self._listen, args=(wake,), name="liveroom-redis", daemon=True
        ).start()

    def _listen(self, wake: Callable[[], None]) -> None:
        while not self.closed:
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=5)
                self.pubsub = client.pubsub()
                self.pubsub.subscribe(CHANNEL)
                for message in self.pubsub.listen():
                    if self.closed:
                        return
                    # "subscribe": Redis confirmed the subscription, so every later
                    # publish reaches us; whatever came before is in the log: look once.
                    if message and message.get("type") in ("message", "subscribe"):
                        wake()
            except redis.RedisError:
                if self.closed:
                    return
                log.warning("redis subscription lost; retrying in 1 s")
                time.sleep(1)
            except (ValueError, AttributeError, OSError):
                return  # closed underneath us

    def close(self) -> None:
        self.closed = True
        if self.pubsub is not None:
            # Closing a broken connection may fail; there is nothing left to do then.
            with contextlib.suppress(Exception):
                self.pubsub.close()
