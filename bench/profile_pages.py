"""Where a page's time goes: CPU milliseconds per request, in-process, with a profile.

    .venv/bin/python bench/profile_pages.py                   # every page, ms each
    .venv/bin/python bench/profile_pages.py "channel list"    # ... and a cProfile of it
    .venv/bin/python bench/profile_pages.py --requests 500 --sort tottime "attendance"

``pages_bench.py`` says how fast a page is under gunicorn and wrk; this says why.
It seeds the same data set as ``pages_bench.py`` (same sizes, same options) into a
fresh SQLite file, signs ``alice`` in through the log-in form of Flask's test client,
and asks for each page ``--requests`` times after one warm-up request. Times are the
process's CPU time, not the wall clock: the machine's other work then moves them
little, and the server's cost per request is what limits its rate. Each figure is
the fastest of ``--rounds`` rounds. Pages whose name contains one of the words given
also get a cProfile of ``--requests`` more requests.

Under gunicorn and wrk every request costs more than here (the HTTP parsing, the
worker's loop, wrk on the same cores), so a page meets a ratio target r against the
constant endpoint when its own figure here is roughly (constant here + 0.05 ms) / r
- 0.1 ms or less: with the constant at 0.2 ms, 0.74 ms for 0.3 and 0.4 ms for 0.5
(fitted to the four pages of one pages_bench.py run on the 2-core machine).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, close_seeding_app, seeding_app  # noqa: E402
from pages_app import add_constant  # noqa: E402
from pages_bench import LOGIN_TOKEN, seed  # noqa: E402


def cpu_ms_per_request(client: object, path: str, requests: int, rounds: int) -> float:
    """The fastest round's CPU milliseconds per request (the answer must be 200)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(requests):
            response = client.get(path)
        best = min(best, (time.process_time() - start) / requests)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return best * 1000


def profile(client: object, path: str, requests: int, sort: str, lines: int) -> str:
    """A cProfile of ``requests`` requests for ``path``, its top ``lines`` by ``sort``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(lines)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pages", nargs="*", help="profile the pages whose name contains these")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--memberships", type=int, default=10000)
    parser.add_argument("--private-rooms", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200, help="per round and page")
    parser.add_argument("--rounds", type=int, default=3, help="the fastest one counts")
    parser.add_argument("--sort", default="cumulative", help="pstats order of the profile")
    parser.add_argument("--lines", type=int, default=45, help="lines of each profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = f"sqlite:///{tmp / 'pages.sqlite'}"
        pages = seed(url, tmp, args)
        app = add_constant(seeding_app(url, tmp))
        client = app.test_client()
        token = LOGIN_TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
        print(f"CPU ms per request, fastest of {args.rounds} rounds of {args.requests}:")
        for name, path in pages.items():
            client.get(path)  # caches warm, as in the server under wrk
            ms = cpu_ms_per_request(client, path, args.requests, args.rounds)
            print(f"  {name:<20} {path:<48} {ms:6.2f} ms", flush=True)
            if any(word.casefold() in name.casefold() for word in args.pages):
                print(profile(client, path, args.requests, args.sort, args.lines))
        close_seeding_app(app)


if __name__ == "__main__":
    main()
