"""The floor: a bare Server-Sent Events fan-out with gevent and in-process queues.

No database, no sign-in, no templates: what delivering one message to N open
streams costs on this machine at the least. ``bench/sse_bench.py`` runs it next to
Liveroom and reports Liveroom's latency as a multiple of this one's.

    python bench/floor_app.py PORT
"""

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import sys  # noqa: E402

import gevent.queue  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

listeners: set[gevent.queue.Queue] = set()
next_id = 0


def app(environ, start_response):
    global next_id
    path = environ["PATH_INFO"]
    if path == "/stream":
        queue: gevent.queue.Queue = gevent.queue.Queue()
        listeners.add(queue)
        start_response(
            "200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        )

        def stream():
            try:
                yield b"retry: 2000\n\n"
                while True:
                    try:
                        yield queue.get(timeout=15)
                    except gevent.queue.Empty:
                        yield b": keep-alive\n\n"
            finally:
                listeners.discard(queue)

        return stream()
    if path == "/post":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        next_id += 1
        # About the size of a rendered Liveroom chat message.
        html = (
            f'<ol id="chat-log" hx-swap-oob="beforeend"><li class="message"><p>{body}</p></li></ol>'
        )
        message = f"id: {next_id}\nevent: room\ndata: {html}\n\n".encode()
        for queue in list(listeners):
            queue.put_nowait(message)
        start_response("204 No Content", [])
        return [b""]
    if path == "/count":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(listeners)).encode()]
    start_response("404 Not Found", [])
    return [b""]


if __name__ == "__main__":
    # The benchmark stops it with SIGINT.
    with contextlib.suppress(KeyboardInterrupt):
        WSGIServer(("127.0.0.1", int(sys.argv[1])), app, log=None, backlog=2048).serve_forever()
