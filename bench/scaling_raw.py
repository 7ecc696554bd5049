"""Raw RESP2/RESP3 connections and server figures for bench/scaling.py.

No client library: bench/scaling.py opens hundreds of plain sockets (idle data connections,
BCAST tracking connections) and reads INFO and CLIENT LIST itself, so the figures are the
server's own and nothing between us and Redis adds connections.
"""
from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from typing import Any, Iterable


def encode(*args: str | bytes | int) -> bytes:
    """One command in RESP."""
    items = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    out = [b"*%d\r\n" % len(items)]
    for a in items:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Push(list):  # type: ignore[type-arg]
    """A RESP3 push frame (its items)."""


class ReplyError(Exception):
    """An error reply."""


class Conn:
    """One blocking connection with its own read buffer; replies are RESP2 or RESP3."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    @property
    def local_addr(self) -> str:
        h, p = self.sock.getsockname()[:2]
        return f"{h}:{p}"

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, *args: str | bytes | int) -> Any:
        """Send one command and return its reply, skipping pushes that arrive first."""
        self.send(encode(*args))
        return self.reply()

    def reply(self) -> Any:
        while True:
            r = self.read()
            if not isinstance(r, Push):
                if isinstance(r, ReplyError):
                    raise r
                return r

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data

    def _fill(self) -> None:
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def read(self) -> Any:
        """One frame (an error reply is returned as a ReplyError, not raised)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"("):
            return rest.decode()
        if kind == b"-":
            return ReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        if kind == b"_":
            return None
        if kind in (b"$", b"="):
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return Push(items) if kind == b">" else items
        if kind == b"%":
            n = int(rest)
            return {self.read(): self.read() for _ in range(n)}
        raise ConnectionError(f"unexpected RESP type {line[:20]!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def info(ctl: Conn, section: str = "everything") -> dict[str, str]:
    """INFO as a dict; the reply's own size is kept under "_bytes" (it counts in the next
    total_net_output_bytes)."""
    raw = ctl.call("INFO", section)
    out = {"_bytes": str(len(raw) + len(b"$%d\r\n\r\n" % len(raw)))}
    for line in text(raw).splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def client_list(ctl: Conn) -> list[dict[str, str]]:
    rows = []
    for line in text(ctl.call("CLIENT", "LIST")).splitlines():
        row = {}
        for part in line.split(" "):
            if "=" in part:
                k, v = part.split("=", 1)
                row[k] = v
        rows.append(row)
    return rows


def open_many(host: str, port: int, k: int, setup: Iterable[tuple[str | int, ...]] = ()) -> list[Conn]:
    """k connections, each having run setup (pipelined) and answered a PING."""
    cmds = [encode(*c) for c in setup] + [encode("PING")]
    conns = []
    for _ in range(k):
        c = Conn(host, port)
        c.send(b"".join(cmds))
        for _ in cmds:
            c.reply()
        conns.append(c)
    return conns


def close_all(conns: Iterable[Conn]) -> None:
    for c in conns:
        c.close()


def wait_clients(ctl: Conn, n: int, timeout: float = 30.0) -> int:
    """Poll INFO clients until connected_clients == n; returns it (raises after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = int(info(ctl, "clients")["connected_clients"])
        if got == n:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"connected_clients stayed {got}, expected {n}")
        time.sleep(0.01)


class Drainer:
    """Reads and discards everything arriving on some connections, on a thread (epoll)."""

    def __init__(self, conns: list[Conn]) -> None:
        self.conns = conns
        self.bytes = 0
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        for c in conns:
            c.sock.setblocking(False)
            self._sel.register(c.sock, selectors.EVENT_READ)
        self._t = threading.Thread(target=self._run, daemon=True, name="drainer")
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._sel.select(0.05):
                try:
                    while True:
                        chunk = key.fileobj.recv(1 << 18)  # type: ignore[union-attr]
                        if not chunk:
                            self._sel.unregister(key.fileobj)
                            break
                        self.bytes += len(chunk)
                        self.last = time.monotonic()
                except BlockingIOError:
                    pass

    def quiet(self, for_s: float = 0.3, timeout: float = 120.0) -> None:
        """Wait until nothing arrived for for_s (every push read)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.last < for_s:
            if time.monotonic() > deadline:
                raise RuntimeError("pushes kept arriving")
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(5)
        self._sel.close()
        for c in self.conns:
            c.sock.setblocking(True)


def my_ports(pid: int | None = None) -> set[int]:
    """The local ports of the TCP sockets process pid (default: this one) holds (Linux /proc)."""
    pid = pid or os.getpid()
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[9] in inodes:
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def rows_from(rows: list[dict[str, str]], ports: set[int]) -> list[dict[str, str]]:
    """The CLIENT LIST rows whose peer port is one of ports."""
    return [r for r in rows if int(r.get("addr", ":0").rsplit(":", 1)[1]) in ports]
