"""Wake-ups between the worker processes of one host, without Redis.

Each hub binds a Unix datagram socket in a directory shared by every process that uses
the same database (named after the database, under the temporary directory, readable
only by this user). After a commit that stored events, the committing process sends
one byte to every other socket there, and their watchers read the log at once. So an
idle server sleeps: nothing is read on a timer to find out whether something happened.

A datagram is only a hint: the event log stays the source of truth. If one is lost (a
full socket buffer already holds a wake-up, which is just as good), the watcher's
occasional safety look still finds the event. Across hosts, Redis does this job
(``LIVEROOM_REDIS_URL``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def directory_for(database_url: str) -> str:
    """One directory per database: every process using it wakes the others."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"liveroom-wake-{os.getuid()}-{digest}")


def private_directory(path: str) -> bool:
    """Whether ``path`` is a real directory of this user that nobody else may write to."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


class LocalWake:
    """This process's wake-up socket, and the sender that wakes the others."""

    def __init__(self, database_url: str) -> None:
        self.directory = directory_for(database_url)
        self.path: str | None = None
        self.sock: socket.socket | None = None
        self.sender: socket.socket | None = None
        self.closed = False
        self.peers: list[str] = []
        self.listed_at = -1
        self.lock = threading.Lock()

    def listen(self, wake: Callable[[], None]) -> None:
        """Bind this process's socket and call ``wake`` for every datagram it gets."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if not private_directory(self.directory):
            # Someone else made it (a shared temporary directory): do not send or listen
            # there. The watcher's safety look still finds every event, only later.
            log.warning("wake-ups off: %s is not this user's private directory", self.directory)
            self.closed = True
            return
        self.path = os.path.join(self.directory, f"{os.getpid()}-{id(self):x}.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(self.path)
        self.sock = sock
        threading.Thread(
            target=self._receive, args=(wake,), name="liveroom-wake", daemon=True
        ).start()

    def _receive(self, wake: Callable[[], None]) -> None:
        while not self.closed:
            try:
                self.sock.recv(64)
            except OSError:
                return  # closed
            wake()

    def publish(self) -> None:
        """Wake every other process using this database (never blocks)."""
        if self.closed:
            return
        sender = self.sender
        if sender is None:
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
            self.sender = sender
        for peer in self._peers():
            try:
                sender.sendto(b"1", peer)
            except BlockingIOError:
                pass  # its buffer already holds a wake-up
            except OSError as error:
                if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
                    # A process that ended without removing its socket.
                    with contextlib.suppress(OSError):
                        os.unlink(peer)
                else:
                    log.warning("wake-up to %s failed: %s", peer, error)

    def _peers(self) -> list[str]:
        """The other processes' sockets, listed again only when the directory changed
        (a process started or ended): one stat() per send otherwise."""
        try:
            changed_at = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            return []
        with self.lock:
            if changed_at != self.listed_at:
                self.listed_at = changed_at
                if not private_directory(self.directory):
                    self.peers = []
                    return self.peers
                self.peers = [
                    path
                    for name in os.listdir(self.directory)
                    if name.endswith(".sock")
                    and (path := os.path.join(self.directory, name)) != self.path
                ]
            return self.peers

    def close(self) -> None:
        self.closed = True
        for sock in (self.sock, self.sender):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)  # only when no other process uses it
