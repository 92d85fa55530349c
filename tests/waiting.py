"""Waiting for a condition in tests, bounded by a generous deadline.

A test that sleeps a fixed time and then asserts is either slow (the sleep is long) or
flaky (the machine is busy and the sleep was too short). Waiting for the condition
itself is as fast as the code allows and fails only when the thing never happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Long enough that a busy two-core machine never runs into it; a failing test pays it
# once, a passing one never does. How fast things happen is measured in bench/.
DEADLINE = 10.0


def wait_until(
    predicate: Callable[[], T],
    timeout: float = DEADLINE,
    message: str = "the condition did not come true",
    every: float = 0.02,
) -> T:
    """Ask ``predicate`` until it answers something true, and return that answer.

    For conditions nothing signals (a count in another thread, a row another process
    writes); when there is an event to wait on (``threading.Event``, a stream's next
    message), wait on that instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout} s)")
        time.sleep(every)
