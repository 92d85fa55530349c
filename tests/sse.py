"""Reading a real Server-Sent Events stream in tests, with timeouts."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class SSE:
    id: int | None
    event: str
    data: str


def parse(block: str) -> SSE | None:
    event_id, name, data = None, "message", []
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id = int(value)
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if not data and event_id is None:
        return None
    return SSE(event_id, name, "\n".join(data))


class StreamReader:
    """Reads chunks from an iterable of bytes in a thread; tests wait for events."""

    def __init__(self, chunks: Iterable[bytes], on_close: Callable[[], None] | None = None):
        self.events: queue.Queue[SSE] = queue.Queue()
        self.seen: list[SSE] = []
        self.comments = 0
        self._on_close = on_close
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(chunks,), daemon=True)
        self._thread.start()

    def _read(self, chunks: Iterable[bytes]) -> None:
        buffer = ""
        try:
            for chunk in chunks:
                if self._stop.is_set():
                    break
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    if block.startswith(":"):
                        self.comments += 1
                    message = parse(block)
                    if message is not None:
                        self.events.put(message)
        except Exception:  # the server ended the stream
            pass
        finally:
            # Closed from this thread: a generator cannot be closed while another runs it.
            if self._on_close:
                self._on_close()

    def wait_for(self, predicate: Callable[[SSE], bool], timeout: float = 3.0) -> SSE:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout}s; saw {self.seen}")
            try:
                message = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(message)
            if predicate(message):
                return message

    def wait_for_text(self, text: str, timeout: float = 3.0) -> SSE:
        return self.wait_for(lambda m: text in m.data, timeout)

    def nothing_matching(self, predicate: Callable[[SSE], bool], within: float = 0.5) -> bool:
        try:
            self.wait_for(predicate, within)
        except AssertionError:
            return True
        return False

    def ended(self, timeout: float = 3.0) -> bool:
        """Whether the server ended the stream (the reader saw its last chunk)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop reading (the server's next keep-alive wakes the reader) and hang up."""
        self._stop.set()
        self._thread.join(timeout=5)
