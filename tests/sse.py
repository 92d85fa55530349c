"""Reading a real Server-Sent Events stream in tests.

Tests wait for the event they expect, bounded by a generous deadline, never for a fixed
time. To show that something did *not* arrive, a test makes something else happen
after it and waits for that marker (``before``): a stream is ordered, so whatever was
going to come would be before the marker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.waiting import DEADLINE


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
    """Reads chunks from an iterable of bytes in a thread; tests wait for events.

    Every event is kept, in order, so a test can look back at all the stream sent
    (``seen``), not only at what it waited for. ``wait_for`` moves a cursor forward, so
    two waits for the same text find two different events.
    """

    def __init__(self, chunks: Iterable[bytes], on_close: Callable[[], None] | None = None):
        self._received: list[SSE] = []
        self._comments = 0
        self._passed = 0  # events before this index were looked at by wait_for
        self._finished = False
        # Notified on every event, every comment and at the end of the stream.
        self._changed = threading.Condition()
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
                    message = parse(block)
                    with self._changed:
                        if block.startswith(":"):
                            self._comments += 1
                        if message is not None:
                            self._received.append(message)
                        self._changed.notify_all()
        except Exception:  # the server ended the stream
            pass
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()
            # Closed from this thread: a generator cannot be closed while another runs it.
            if self._on_close:
                self._on_close()

    @property
    def seen(self) -> list[SSE]:
        """Every event the stream has sent so far, in order."""
        with self._changed:
            return list(self._received)

    @property
    def comments(self) -> int:
        """How many comment lines (keep-alives) the stream has sent so far."""
        with self._changed:
            return self._comments

    def _first(self, predicate: Callable[[SSE], bool], start: int) -> int | None:
        for index in range(start, len(self._received)):
            if predicate(self._received[index]):
                return index
        return None

    def _wait_for_index(self, predicate: Callable[[SSE], bool], start: int, timeout: float) -> int:
        """The index of the first event from ``start`` on that matches, waited for.
        Fails at once when the stream has ended without one, else at the deadline."""
        found: int | None = None

        def settled() -> bool:
            nonlocal found
            found = self._first(predicate, start)
            return found is not None or self._finished

        with self._changed:
            self._changed.wait_for(settled, timeout)
            if found is None:
                why = "before the stream ended" if self._finished else f"within {timeout} s"
                raise AssertionError(f"no matching event {why}; saw {self._received}")
            return found

    def wait_for(self, predicate: Callable[[SSE], bool], timeout: float = DEADLINE) -> SSE:
        """The next event (after those already waited for) that matches."""
        with self._changed:
            index = self._wait_for_index(predicate, self._passed, timeout)
            self._passed = index + 1
            return self._received[index]

    def wait_for_text(self, text: str, timeout: float = DEADLINE) -> SSE:
        return self.wait_for(lambda m: text in m.data, timeout)

    def before(self, marker: Callable[[SSE], bool], timeout: float = DEADLINE) -> list[SSE]:
        """Everything the stream sent before its first event matching ``marker``,
        which is waited for: what a test asserts did not arrive ahead of the marker."""
        with self._changed:
            index = self._wait_for_index(marker, 0, timeout)
            self._passed = max(self._passed, index + 1)
            return self._received[:index]

    def wait_for_comments(self, count: int, timeout: float = DEADLINE) -> None:
        """Wait until the stream has sent ``count`` comment lines (keep-alives)."""
        with self._changed:
            if (
                not self._changed.wait_for(
                    lambda: self._comments >= count or self._finished, timeout
                )
                or self._comments < count
            ):
                raise AssertionError(f"{self._comments} of {count} comments; saw {self._received}")

    def ended(self, timeout: float = DEADLINE) -> bool:
        """Whether the server ended the stream (the reader saw its last chunk)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop reading (the server's next keep-alive wakes the reader) and hang up."""
        self._stop.set()
        self._thread.join(timeout=5)
