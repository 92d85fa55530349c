"""What subscribing and unsubscribing cost in one worker's hub, as streams pile up.

Every stream's end runs ``Hub.unsubscribe`` under the hub's lock, on the worker's
event loop: if that cost grew with the number of open streams, closing a class of
4,000 would stall the loop for everyone. This subscribes N listeners (spread over a
few rooms, each with its own login session, as real streams are) to a real hub on a
real SQLite database, then times unsubscribing all of them, for several N in one run.
Constant time shows as the same microseconds per unsubscribe at every N. Then it
times the upkeep that follows the closing of half of them (``keep_present``: its
bookkeeping runs under the same lock, and its writes touch only the open streams).

    .venv/bin/python bench/hub_bench.py            # N = 1,000, 4,000 and 16,000
    .venv/bin/python bench/hub_bench.py --sizes 1000,4000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from liveroom import create_app  # noqa: E402
from liveroom.extensions import db  # noqa: E402
from liveroom.live.hub import hub_of  # noqa: E402
from liveroom.live.render import PARTICIPANT, Listener, Watcher  # noqa: E402


def measure(size: int, directory: Path) -> tuple[float, float, float, float]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / f'hub-{size}.sqlite'}",
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(directory),
        }
    )
    with app.app_context():
        db.create_all()
    hub = hub_of(app)
    listeners = [
        Listener(
            room_id=n % 7,
            session_id=n % 7,
            user_id=n,
            role=PARTICIPANT,
            participation_id=n,
            login_id=n,
        )
        for n in range(size)
    ]
    watchers = [Watcher(room_ids=frozenset({n % 7}), user_id=n, login_id=n) for n in range(size)]
    began = time.perf_counter()
    for number, listener in enumerate(listeners):
        hub.subscribe(listener, slot_id=number)
    for watcher in watchers:
        hub.watch(watcher)
    subscribed = time.perf_counter() - began
    began = time.perf_counter()
    for listener in listeners[: size // 2]:
        hub.unsubscribe(listener)
    unsubscribed = time.perf_counter() - began
    # The upkeep that follows: its bookkeeping (who said goodbye, which streams are
    # still open, by login session) runs under the hub's lock.
    began = time.perf_counter()
    hub.keep_present()
    upkeep = time.perf_counter() - began
    for listener in listeners[size // 2 :]:
        hub.unsubscribe(listener)
    began = time.perf_counter()
    for watcher in watchers:
        hub.unwatch(watcher)
    unwatched = time.perf_counter() - began
    hub.stop()
    return subscribed / (2 * size), unsubscribed / (size // 2), unwatched / size, upkeep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,4000,16000", help="comma-separated N")
    args = parser.parse_args()
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        sys.exit("error: --sizes takes whole numbers separated by commas, e.g. 1000,4000")
    print(
        f"{'streams':>8}  {'subscribe µs':>12}  {'unsubscribe µs':>14}  {'unwatch µs':>10}  {'close all ms':>12}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            sub, unsub, unwatch, upkeep = measure(size, Path(directory))
            print(
                f"{size:>8}  {sub * 1e6:>12.1f}  {unsub * 1e6:>14.1f}  {unwatch * 1e6:>10.1f}"
                f"  {unsub * size * 1e3:>12.1f}  {upkeep * 1e3:>13.1f}"
            )


if __name__ == "__main__":
    main()
