"""The floor rows of the bench: what a single-key GET/SET costs with no client library at all.

Two floors, measured in the same interleaved rounds as the backends (bench.py):
- ``Socket``: a bare Python loop on one loopback socket: the RESP bytes of every command are
  computed beforehand, each op is one ``sendall`` and ``recv`` until the whole, known-length reply
  has arrived. Nothing is parsed or unpickled. It runs in the bench process, so it is pinned exactly
  like the single-thread backends. This is the floor for anything called from Python.
- ``redis_benchmark``: ``redis-benchmark -c 1 -P 1`` (C, one connection, no pipelining) on the same
  server, started under ``taskset -c <cpu>`` for the pinned rows; its own ops/s and latency
  percentiles are parsed from ``--csv``.

The keys and values have the same sizes on the wire as the backends' (a 12-byte key, the
117-byte pickle of the 100-byte value), and SET carries the same ``EX 300`` as the default timeout.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
from typing import Any, Callable

Op = Callable[[int], Any]
DEFAULT_EX = b"300"  # Django's default timeout, which the backends' `set` rows use


def resp(*args: bytes) -> bytes:
    """One command in RESP2 (array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Socket:
    """One blocking loopback socket with TCP_NODELAY, as every client library uses."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=5.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        self.sock.close()

    def _loop(self, cmds: list[bytes], reply_len: int, expect_head: bytes) -> Op:
        """op(i): send cmds[i mod n], read exactly reply_len bytes."""
        sock = self.sock
        sendall, recv = sock.sendall, sock.recv
        mask = len(cmds) - 1  # a power of two

        def op(i: int) -> None:
            sendall(cmds[i & mask])
            got = recv(65536)
            n = len(got)
            while n < reply_len:
                more = recv(65536)
                if not more:
                    raise ConnectionError("redis-server closed the floor socket")
                n += len(more)
        # the check that the loop reads what it thinks (and leaves nothing unread)
        sendall(cmds[0])
        first = b""
        while len(first) < reply_len:
            chunk = recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the floor socket")
            first += chunk
        if len(first) != reply_len or not first.startswith(expect_head):
            raise AssertionError(f"floor socket: unexpected reply {first[:40]!r} ({len(first)} bytes)")
        return op

    def prepare_get(self, keys: list[bytes], value: bytes) -> Op:
        """GET of stored keys (stored here, over the same socket)."""
        for k in keys:
            self.sock.sendall(resp(b"SET", k, value))
            self._read_exact(5)
        head = b"$%d\r\n" % len(value)
        return self._loop([resp(b"GET", k) for k in keys], len(head) + len(value) + 2, head)

    def prepare_get_miss(self, keys: list[bytes]) -> Op:
        self.sock.sendall(resp(b"DEL", *keys))
        self._read_line()
        return self._loop([resp(b"GET", k) for k in keys], 5, b"$-1\r\n")

    def prepare_set(self, keys: list[bytes], value: bytes) -> Op:
        return self._loop([resp(b"SET", k, value, b"EX", DEFAULT_EX) for k in keys], 5, b"+OK\r\n")

    def _read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("redis-server closed the floor socket")
            buf += chunk
        return buf

    def _read_line(self) -> bytes:
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("redis-server closed the floor socket")
            buf += chunk
        return buf


def redis_benchmark_available() -> str | None:
    """None when redis-benchmark can run; else why not."""
    if shutil.which("redis-benchmark") is None:
        return "redis-benchmark is not installed (apt package redis-tools; `make apt`)"
    return None


def redis_benchmark(port: int, cpu: int | None, args: list[str], n: int, keyspace: int) -> dict[str, float]:
    """Run ``redis-benchmark -c 1 -P 1 -n N -r keyspace --csv <command>`` once.

    Returns rps and the p50/p99 latency in µs as redis-benchmark reports them. ``__rand_int__``
    in the command is replaced by redis-benchmark with a 12-digit number below ``keyspace``.
    """
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-P", "1",
           "-n", str(max(n, 100)), "-r", str(keyspace), "--csv", *args]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise RuntimeError(f"redis-benchmark exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    if not rows or "rps" not in rows[-1]:
        raise RuntimeError(f"redis-benchmark printed no CSV row: {proc.stdout[:300]!r}")
    row = rows[-1]
    return {"rps": float(row["rps"]), "p50_us": float(row["p50_latency_ms"]) * 1000,
            "p99_us": float(row["p99_latency_ms"]) * 1000}


# redis-benchmark commands per floor workload: (command args, needs the keys stored first)
RB_KEY = "fb:__rand_int__"  # 15 bytes after substitution


def rb_args(kind: str, value_len: int) -> list[str]:
    if kind == "get_hit":
        return ["GET", RB_KEY]
    if kind == "get_miss":
        return ["GET", "fm:__rand_int__"]
    if kind == "set":
        return ["SET", RB_KEY, "v" * value_len, "EX", DEFAULT_EX.decode()]
    raise ValueError(kind)
