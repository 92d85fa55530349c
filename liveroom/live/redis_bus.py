"""Redis pub/sub wake-ups between processes (used when LIVEROOM_REDIS_URL is set).

Redis carries only "there is something new"; the event log in the database stays the
source of truth, so a lost Redis message delays delivery by one poll, never loses it.
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
            # The other processes' regular poll still finds the event.
            log.warning("redis publish failed; other workers will see the event on their next poll")

    def listen(self, wake: Callable[[], None]) -> None:
        threading.Thread(
            target=self._listen, args=(wake,), name="liveroom-redis", daemon=True
        ).start()

    def _listen(self, wake: Callable[[], None]) -> None:
        while not self.closed:
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=5)
                self.pubsub = client.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(CHANNEL)
                for message in self.pubsub.listen():
                    if self.closed:
                        return
                    if message and message.get("type") == "message":
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
