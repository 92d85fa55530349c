"""Media with real browsers: 2, 3, 4 and 6 people in one room, over the peer-to-peer
mesh or (``--backend janus``) through the Janus media server.

Each person is their own headless Chromium process (Chromium's fake camera and
microphone), signed in through the log-in form, on gunicorn with two gevent workers
and the demo data (``tests/workers.py``). For each room size N:

1. **Join to first frame.** The teacher starts the meeting and N-2 pupils join; all
   N-1 turn their camera and microphone on. The Nth person, on the channel page,
   clicks "Join Meeting": the page notes ``performance.now()`` right before the click
   and then looks every 50 ms at its connections' ``getStats()`` until an inbound
   video has ``framesDecoded > 0`` (the first remote frame), and on until every
   publisher's video has (all frames). It then clicks "Leave", waits until the
   others have closed their connections to it, and joins again: ``--runs`` runs.
2. **Everyone publishing.** The Nth person joins and turns camera and microphone on
   too; once every page decodes every other person's video, the benchmark reads, over
   ``--window`` seconds, each page's bytes sent and received (``transport`` rows of
   ``getStats()``, summed over the person's connections) and each browser's CPU (its
   whole process tree, from /proc), plus what the whole machine was busy with.

Nothing is judged here: the figures go to bench/README.md.

    .venv/bin/python bench/mesh_bench.py                        # 2,3,4,6; 10 runs; 10 s
    .venv/bin/python bench/mesh_bench.py --sizes 2,3 --runs 3 --window 5   # a quick look
    .venv/bin/python bench/mesh_bench.py --backend janus --sizes 2,4,6,10  # through Janus
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CLOCK_TICKS,
    cpu_since,
    descendants,
    machine,
    machine_busy_seconds,
    percentile,
    tree_cpu,
)
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, log_in  # noqa: E402
from tests.workers import DEMO_PASSWORDS, Gunicorn  # noqa: E402

MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--autoplay-policy=no-user-gesture-required",
]
CHANNEL = "Biology 101"
PUPIL_PASSWORD = "liveroom-pupil"
# On a busy two-core machine six browsers take their time; waits end as soon as done.
DEADLINE = 60

# Click "Join Meeting" and time, from right before the click: the room's panel in
# place (the media script running), the first connection "connected", the first
# remote video frame decoded, and frames decoded from ``expected`` people.
JOIN_AND_TIME = """async (expected) => {
  const button = document.getElementById("join-meeting");
  if (!button) return {error: "no Join Meeting button"};
  const t0 = performance.now();
  button.click();
  const out = {panel: null, connected: null, frame: null, all: null};
  const deadline = t0 + %d;
  while (performance.now() < deadline) {
    const room = window.LiveroomMedia && window.LiveroomMedia.current();
    if (room) {
      if (out.panel === null) out.panel = performance.now() - t0;
      // Frames per person sending them: the mesh's connection per person, or the
      // media server's one connection whose rows its client tags with the person.
      const frames = {};
      for (const part of await room.backend.stats()) {
        for (const row of part.rows) {
          if (row.type === "transport" && row.dtlsState === "connected" && out.connected === null) {
            out.connected = performance.now() - t0;
          }
          if (row.type === "inbound-rtp" && row.kind === "video" && row.framesDecoded > 0) {
            frames[row.liveroomUid !== undefined ? row.liveroomUid : part.uid] = true;
          }
        }
      }
      const withFrames = Object.keys(frames).length;
      const now = performance.now() - t0;
      if (withFrames > 0 && out.frame === null) out.frame = now;
      if (withFrames >= expected) { out.all = now; return out; }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return out;
}""".replace("%d", str(DEADLINE * 1000))

# One page's counters, summed over its connections: bytes on the wire (the transport
# of each connection: RTP, RTCP, DTLS and STUN together), video frames decoded and
# encoded, what limits its encoders, and the size it sends at.
COUNTERS = """async () => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room) return null;
  const out = {me: room.me, connections: 0, sent: 0, received: 0, ts: 0,
               decoded: {}, encoded: 0, limits: {}, width: 0, height: 0};
  for (const peer of await room.backend.stats()) {
    out.connections += 1;
    if (room.config.backend === "mesh") out.decoded[peer.uid] = 0;
    for (const row of peer.rows) {
      if (row.type === "transport") {
        out.sent += row.bytesSent || 0;
        out.received += row.bytesReceived || 0;
        out.ts = Math.max(out.ts, row.timestamp);
      }
      if (row.type === "inbound-rtp" && row.kind === "video") {
        const from = row.liveroomUid !== undefined ? row.liveroomUid : peer.uid;
        out.decoded[from] = (out.decoded[from] || 0) + (row.framesDecoded || 0);
      }
      if (row.type === "outbound-rtp" && row.kind === "video" && row.mid !== "2"
          && (room.config.backend === "mesh" || !row.rid || row.rid === "h")) {
        out.encoded += row.framesEncoded || 0;
        const why = row.qualityLimitationReason || "none";
        out.limits[why] = (out.limits[why] || 0) + 1;
        out.width = Math.max(out.width, row.frameWidth || 0);
        out.height = Math.max(out.height, row.frameHeight || 0);
      }
    }
  }
  return out;
}"""

# What a page's mesh looks like, for a report when something does not arrive.
DIAGNOSE = """async () => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room) return null;
  const out = {me: room.me, peers: {}, roster: (room.roster ? room.roster.people : []).map(
    (p) => [p.uid, p.mic ? "mic" : "-", p.camera ? "cam" : "-"])};
  if (room.config.backend !== "mesh") {
    out.publishers = Object.keys(room.backend.publishers || {});
    out.streams = room.backend.streams;
    return out;
  }
  for (const uid of Object.keys(room.backend.peers)) {
    const pc = room.backend.peers[uid].pc;
    let frames = 0;
    (await pc.getStats()).forEach((row) => {
      if (row.type === "inbound-rtp" && row.kind === "video") frames += row.framesDecoded || 0;
    });
    out.peers[uid] = [pc.connectionState, pc.signalingState, pc.iceConnectionState,
      pc.getTransceivers().map((t) => t.currentDirection || "-").join("/"), frames];
  }
  return out;
}"""

# The people a page is connected to, or receives through the media server (user ids).
PEERS = """() => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room) return [];
  return Object.keys(room.backend.peers).concat(Object.keys(room.backend.publishers || {}))
    .map(Number);
}"""


def janus_env(backend: str) -> dict[str, str]:
    """The server's settings for ``backend``: none for the mesh; for Janus, the first
    server ``scripts/ensure-janus`` runs, with its secret."""
    if backend == "mesh":
        return {}
    secret = Path("/tmp/liveroom-janus/secret")
    if not secret.exists():
        raise SystemExit("error: Janus is not running; start it with scripts/ensure-janus")
    return {
        "LIVEROOM_JANUS_URLS": "http://127.0.0.1:8188/janus",
        "LIVEROOM_JANUS_ADMIN_URLS": "http://127.0.0.1:7188/admin",
        "LIVEROOM_JANUS_ADMIN_SECRET": secret.read_text().strip(),
    }


def janus_process() -> int | None:
    """The first Janus server's process id, while the benchmark runs through it."""
    pid_file = Path("/tmp/liveroom-janus/8188/janus.pid")
    if not os.environ.get("LIVEROOM_BENCH_JANUS") or not pid_file.exists():
        return None
    return int(pid_file.read_text().strip())


def people(size: int) -> list[tuple[str, str]]:
    """(username, password) of a room of ``size``: the teacher, then pupils."""
    pupils = [("student1", DEMO_PASSWORDS["student1"]), ("student2", DEMO_PASSWORDS["student2"])]
    pupils += [(f"pupil{n}", PUPIL_PASSWORD) for n in range(1, 10)]
    return [("teacher", DEMO_PASSWORDS["teacher"]), *pupils[: size - 1]]


def add_pupils(server: Gunicorn, count: int) -> None:
    """Pupils beyond the demo's two, members of Biology 101, through the CLI."""
    for n in range(1, count + 1):
        server.add_member(f"pupil{n}", PUPIL_PASSWORD, CHANNEL)


def launch(playwright):  # noqa: ANN001, ANN201  (a Playwright browser, its process id)
    """A Chromium of its own, and the id of its browser process (the root of the
    process tree that appeared with it)."""
    before = set(descendants(os.getpid()))
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
    new = set(descendants(os.getpid())) - before
    roots = [pid for pid in new if _exe(pid).endswith("chromium") and _parent(pid) not in new]
    return browser, (roots[0] if roots else None)


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return 0


def to_channel(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_role("link", name=CHANNEL).click()
    # The page's deferred scripts first: a button pressed before htmx runs submits its
    # plain form, and the page navigates away under the measurement.
    page.wait_for_load_state("load")
    expect(page.locator("#join-meeting, #start-meeting").first).to_be_visible(
        timeout=DEADLINE * 1000
    )


def enter(page, button: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    to_channel(page)
    page.get_by_role("button", name=button).click()
    expect(page.locator("#stage")).to_be_visible(timeout=DEADLINE * 1000)


def publish(page) -> None:  # noqa: ANN001
    """Camera and microphone on (the first time: the preview dialog, then "Turn on")."""
    from playwright.sync_api import expect

    timeout = DEADLINE * 1000
    page.get_by_role("button", name="Turn camera on").click()
    dialog = page.get_by_role("dialog", name="Check your microphone and camera")
    if dialog.is_visible() or _appears(dialog):
        dialog.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("button", name="Turn camera off")).to_be_visible(timeout=timeout)
    page.get_by_role("button", name="Turn microphone on").click()
    expect(page.get_by_role("button", name="Turn microphone off")).to_be_visible(timeout=timeout)


def _appears(locator) -> bool:  # noqa: ANN001
    try:
        locator.wait_for(state="visible", timeout=3000)
        return True
    except Exception:  # noqa: BLE001  (no dialog: this page previewed before)
        return False


def wait_for(check, what: str, timeout: float = DEADLINE) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def everyone_sees_everyone(pages: list) -> bool:  # noqa: ANN001
    """Every page decodes video from every other page, and it grows."""
    first = [p.evaluate(COUNTERS) for p in pages]
    time.sleep(0.7)
    second = [p.evaluate(COUNTERS) for p in pages]
    for a, b in zip(first, second, strict=True):
        if not a or not b or len(b["decoded"]) < len(pages) - 1:
            return False
        if any(b["decoded"][uid] <= a["decoded"].get(uid, 0) for uid in b["decoded"]):
            return False
    return True


def diagnose(pages: list) -> None:  # noqa: ANN001
    for page in pages:
        try:
            print(f"    {page.evaluate(DIAGNOSE)}", flush=True)
        except Exception as error:  # noqa: BLE001
            print(f"    (no state: {type(error).__name__})", flush=True)


def end_meeting(server: Gunicorn) -> None:
    teacher = server.login("teacher")
    room = server.biology_room(teacher)
    teacher.post(f"{server.base}/rooms/{room}/end")


def measure_size(playwright, server: Gunicorn, size: int, runs: int, window: float) -> dict:  # noqa: ANN001
    from playwright.sync_api import expect

    result: dict = {"size": size, "load_start": machine(), "times": [], "error": None}
    print(f"\n{size} people: {result['load_start']}", flush=True)
    browsers: list = []
    pages: list = []
    try:
        pids = []
        for username, password in people(size):
            browser, pid = launch(playwright)
            browsers.append(browser)
            pids.append(pid)
            pages.append(log_in(browser, server.base, username, password))
        teacher, *pupils = pages
        joiner = pages[-1]
        publishers = pages[:-1]
        enter(teacher, "Start Meeting")
        for page in pupils[:-1]:
            enter(page, "Join Meeting")
        for page in publishers:
            publish(page)
        if len(publishers) > 1:
            wait_for(lambda: everyone_sees_everyone(publishers), "publishers see each other")

        # 1. Join to first frame, ``runs`` times.
        to_channel(joiner)
        for run in range(runs):
            expect(joiner.locator("#join-meeting")).to_be_visible(timeout=DEADLINE * 1000)
            timing = joiner.evaluate(JOIN_AND_TIME, len(publishers))
            result["times"].append(timing)
            shown = {k: ("-" if v is None else f"{v:.0f}") for k, v in timing.items()}
            print(f"  run {run + 1}: {shown} ms", flush=True)
            if timing.get("all") is None:
                diagnose(pages)
            me = joiner.evaluate("() => window.LiveroomMedia.current().me")
            joiner.locator("#leave-meeting").click()
            expect(joiner.locator("#join-meeting")).to_be_visible(timeout=DEADLINE * 1000)
            wait_for(
                lambda me=me: all(me not in p.evaluate(PEERS) for p in publishers),
                "the others closed their connections to the one who left",
            )

        # 2. Everyone publishing: bytes and CPU over the window.
        joiner.locator("#join-meeting").click()
        expect(joiner.locator("#stage")).to_be_visible(timeout=DEADLINE * 1000)
        publish(joiner)
        wait_for(lambda: everyone_sees_everyone(pages), "everyone sees everyone")
        time.sleep(2)  # past the start: encoders at their settled rate
        # Bytes and frames are divided by the stats' own timestamps; CPU is read right
        # around the sleep (reading six pages' stats takes seconds on a busy machine).
        before = [p.evaluate(COUNTERS) for p in pages]
        cpu_before = [tree_cpu(pid) for pid in pids]
        server_before = {p: tree_cpu(p) for p in [server.process.pid]}
        janus_pid = janus_process()
        janus_before = tree_cpu(janus_pid) if janus_pid else None
        busy_before, total_before = machine_busy_seconds()
        start = time.monotonic()
        time.sleep(window)
        busy_after, total_after = machine_busy_seconds()
        cpu_after = [tree_cpu(pid) for pid in pids]
        server_after = {p: tree_cpu(p) for p in [server.process.pid]}
        janus_after = tree_cpu(janus_pid) if janus_pid else None
        elapsed = time.monotonic() - start
        after = [p.evaluate(COUNTERS) for p in pages]
        per_person = []
        for (username, _), a, b, c0, c1 in zip(
            people(size), before, after, cpu_before, cpu_after, strict=True
        ):
            seconds = (b["ts"] - a["ts"]) / 1000 or elapsed
            decoded = sum(b["decoded"][u] - a["decoded"].get(u, 0) for u in b["decoded"])
            per_person.append(
                {
                    "who": username,
                    "connections": b["connections"],
                    "sent": (b["sent"] - a["sent"]) / seconds,
                    "received": (b["received"] - a["received"]) / seconds,
                    "cpu": cpu_since(c0, c1) / elapsed,
                    "fps_in": decoded / seconds / max(1, len(b["decoded"])),
                    "fps_out": (b["encoded"] - a["encoded"]) / seconds / max(1, b["connections"]),
                    "limits": b["limits"],
                    "size_out": f"{b['width']}x{b['height']}",
                }
            )
        result["people"] = per_person
        result["server_cpu"] = (
            sum(cpu_since(server_before[p], server_after[p]) for p in server_before) / elapsed
        )
        result["janus_cpu"] = cpu_since(janus_before, janus_after) / elapsed if janus_pid else None
        cores = (total_after - total_before) / elapsed
        result["machine_busy"] = (busy_after - busy_before) / elapsed
        result["cores"] = cores
        for person in per_person:
            print(
                f"  {person['who']:<9} {person['connections']} conns  "
                f"sent {person['sent'] / 1000:7.1f} kB/s  recv {person['received'] / 1000:7.1f} kB/s  "
                f"CPU {person['cpu']:.2f} cores  in {person['fps_in']:.1f} fps/peer  "
                f"out {person['fps_out']:.1f} fps/copy {person['size_out']}  limits {person['limits']}",
                flush=True,
            )
        if result["janus_cpu"] is not None:
            print(f"  Janus CPU {result['janus_cpu']:.2f} cores", flush=True)
        print(
            f"  server CPU {result['server_cpu']:.2f} cores; whole machine busy "
            f"{result['machine_busy']:.2f} of {cores:.1f} cores",
            flush=True,
        )
    except Exception as error:  # noqa: BLE001  (a size that fails is a result too)
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        print(f"  failed: {result['error']}", flush=True)
        diagnose(pages)
    finally:
        for browser in browsers:
            with contextlib.suppress(Exception):
                browser.close()
        with contextlib.suppress(Exception):
            end_meeting(server)
        result["load_end"] = machine()
        print(f"  end: {result['load_end']}", flush=True)
    return result


def summary(results: list[dict]) -> None:
    print(
        "\n| people | runs | first frame p50 ms | p95 ms | all frames p50 ms | p95 ms "
        "| sent kB/s per person | received kB/s per person | CPU per browser (cores) "
        "| all browsers (cores) | machine busy (of 2) | load start / end |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        firsts = [t["frame"] for t in r["times"] if t.get("frame") is not None]
        alls = [t["all"] for t in r["times"] if t.get("all") is not None]
        load = f"{_load(r['load_start'])} / {_load(r['load_end'])}"
        if "people" in r:
            ps = r["people"]
            sent = sum(p["sent"] for p in ps) / len(ps) / 1000
            received = sum(p["received"] for p in ps) / len(ps) / 1000
            cpus = [p["cpu"] for p in ps]
            per = f"{sum(cpus) / len(cpus):.2f} ({min(cpus):.2f}–{max(cpus):.2f})"
            window = (
                f"{sent:.0f} | {received:.0f} | {per} | {sum(cpus):.2f} | {r['machine_busy']:.2f}"
            )
        else:
            window = "– | – | – | – | –"
        print(
            f"| {r['size']} | {len(firsts)}/{len(r['times'])} | {percentile(firsts, 50):.0f} "
            f"| {percentile(firsts, 95):.0f} | {percentile(alls, 50):.0f} "
            f"| {percentile(alls, 95):.0f} | {window} | {load} |"
        )
        if r["error"]:
            print(f"|   | failed: {r['error']} |")


def _load(text: str) -> str:
    match = re.search(r"load average ([\d.]+)", text)
    return match.group(1) if match else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2,3,4,6", help="room sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=10, help="joins timed per size")
    parser.add_argument("--window", type=float, default=10, help="seconds of bytes and CPU")
    parser.add_argument(
        "--backend",
        default="mesh",
        choices=("mesh", "janus"),
        help="janus: through the Janus of scripts/ensure-janus (its first server)",
    )
    args = parser.parse_args()
    if args.backend == "janus":
        os.environ["LIVEROOM_BENCH_JANUS"] = "1"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    from playwright.sync_api import sync_playwright

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{args.backend} benchmark, {when}; {machine()}")
    print(f"clock ticks {CLOCK_TICKS}/s; sizes {sizes}, {args.runs} runs, {args.window:g} s window")
    with tempfile.TemporaryDirectory() as tmp:
        server = Gunicorn(Path(tmp), database="sqlite", **janus_env(args.backend))
        try:
            add_pupils(server, max(0, max(sizes) - 3))
            results = []
            with sync_playwright() as playwright:
                for size in sizes:
                    results.append(measure_size(playwright, server, size, args.runs, args.window))
            summary(results)
            tracebacks = server.log().count("Traceback")
            if tracebacks:
                print(f"server log: {tracebacks} tracebacks")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
