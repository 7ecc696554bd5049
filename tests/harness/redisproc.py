"""Throw-away redis-server processes on free loopback ports, for tests, the demo and the bench.

Nothing here mocks Redis: every server is a real ``redis-server`` child process with no
persistence, bound to 127.0.0.1, torn down by ``stop()`` (or the context manager).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Iterable


class RedisServerError(RuntimeError):
    """The redis-server binary is missing or the server did not come up."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so a
    crashed test run leaves no redis-server behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _find(env: str, default: str, install: str) -> str:
    """The binary named by the environment variable env (a path, or a name looked up on PATH), else
    default on PATH; a missing one is a RedisServerError saying how to get it."""
    wanted = os.environ.get(env) or default
    path = shutil.which(wanted)
    if path is None:
        if os.environ.get(env):
            raise RedisServerError(f"{env}={wanted!r} is not an executable")
        raise RedisServerError(f"{default} is not installed; {install}")
    return path


def _binary() -> str:
    """The server binary: RCG_REDIS_SERVER (e.g. a valkey-server, as `make test-valkey` sets it), or
    redis-server on PATH. It also runs the sentinels (``--sentinel``)."""
    return _find("RCG_REDIS_SERVER", "redis-server",
                 "run `make setup` (it runs `apt-get install redis-server redis-tools`).")


def cli_binary() -> str:
    """The command-line client: RCG_REDIS_CLI (e.g. valkey-cli), or redis-cli on PATH."""
    return _find("RCG_REDIS_CLI", "redis-cli", "run `make setup` (apt package redis-tools).")


def server_version() -> str:
    """What the server binary says of itself (``--version``), for test reports."""
    path = _binary()
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    return f"{path}: {out.stdout.strip() or out.stderr.strip()}"


class RedisServer:
    """A real redis-server on 127.0.0.1:<port>, with an optional unix socket.

    Start it from a thread that outlives it (the main thread, as fixtures do): on Linux the
    server is told to exit when the starting thread exits.

    ``extra`` are additional ``--name value`` pairs for redis-server.
    ``cpu`` pins the server to one CPU with taskset when given (benchmarks).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        password: str | None = None,
        unix_socket: bool = False,
        extra: Iterable[str] = (),
        cpu: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="rcg-redis-")
        self.unix_socket = os.path.join(self.dir, "redis.sock") if unix_socket else None
        self.extra = list(extra)
        self.cpu = cpu
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def location(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "RedisServer":
        args = [
            _binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.dir,
            "--daemonize", "no", "--loglevel", "warning",
            # a replica's full sync starts at once (Redis waits 5 s by default for more replicas
            # to share a diskless transfer): deployments with replicas start in 0.1 s, not 5
            "--repl-diskless-sync-delay", "0",
            "--logfile", os.path.join(self.dir, "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        if self.unix_socket:
            args += ["--unixsocket", self.unix_socket, "--unixsocketperm", "700"]
        args += self.extra
        if self.cpu is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(self.cpu)] + args
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RedisServerError(f"redis-server exited with {self.proc.returncode}: {err}{self.log()}")
            if self.ping():
                return self
            time.sleep(0.01)
        self.stop()
        raise RedisServerError(f"redis-server on port {self.port} did not answer PING within {timeout}s")

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def command(self, *args: str | bytes, timeout: float = 30.0) -> object:
        """Send one command over a fresh socket and return the decoded RESP2 reply.

        Independent of every client library, so tests can inspect what is really stored.
        """
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if self.password:
                s.sendall(_encode(("AUTH", self.password)))
                _read(f)
            s.sendall(_encode(args))
            return _read(f)

    def ping(self) -> bool:
        try:
            return self.command("PING", timeout=0.5) in (b"PONG", "PONG")
        except (OSError, RedisReplyError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisReplyError(Exception):
    """The server answered a harness command with an error reply."""


def _encode(args: Iterable[str | bytes]) -> bytes:
    parts = []
    items = [a.encode() if isinstance(a, str) else bytes(a) for a in args]
    parts.append(b"*%d\r\n" % len(items))
    for a in items:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def _read(f) -> object:  # type: ignore[no-untyped-def]
    line = f.readline()
    if not line:
        raise OSError("connection closed by redis-server")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_read(f) for _ in range(n)]
    raise OSError(f"unexpected reply {line!r}")
