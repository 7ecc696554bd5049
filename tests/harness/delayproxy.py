"""A loopback TCP proxy that can delay and hold traffic, and counts requests in flight.

Every chunk it forwards, in either direction, waits ``delay`` seconds first (0 by default). It
parses the RESP on both directions and counts *commands in flight*: commands a client sent whose
reply has not come back from the server yet (several on one connection when the client pipelines).
``commands_in_flight()`` and ``command_peak()`` count commands; ``in_flight()`` and ``peak()`` count
connections with at least one command in flight (``reset_peak()`` starts both peaks over);
``requests()`` counts the times a connection went from nothing in flight to something.

``hold()`` keeps every command at the proxy (counted as in flight, not yet sent to the server; the
proxy goes on reading what the client sends) until ``release()``; ``hold(until=n)`` releases them
by itself as soon as ``n`` commands are held at once. That turns "these calls overlap" into a fact
a test can assert without timing: calls that overlap reach ``n`` together, whether on n
connections or pipelined on one; calls that queue one behind the other never get past 1. A hold
that nothing releases ends after ``give_up`` seconds, so a failing test fails on its assertion,
not on a hang.

Threads, not asyncio, so it runs beside whatever event loop the test uses: one accept thread and
three threads per connection (reader and sender upstream, reader downstream). Loopback only.
"""
from __future__ import annotations

import collections
import socket
import threading
import time

from loopback import LoopbackServer


class DelayProxy(LoopbackServer):
    def __init__(self, target_host: str, target_port: int, delay: float = 0.0, give_up: float = 30.0) -> None:
        super().__init__("delayproxy")
        self.target = (target_host, target_port)
        self.delay = delay
        self.give_up = give_up
        self._sockets: list[socket.socket] = []
        self._cond = threading.Condition()
        self._closed = False
        self._busy: set[socket.socket] = set()  # client sockets with a command in flight
        self._pending: dict[socket.socket, int] = {}  # commands in flight per client socket
        self._peak = 0
        self._cmd_peak = 0
        self._requests = 0
        self._held = False
        self._release_at = 0  # with a hold: release by itself once this many are in flight (0: never)

    def connections(self) -> int:
        """Client connections currently open through the proxy."""
        with self._cond:
            return sum(1 for s in self._sockets if s.fileno() != -1) // 2

    # -- requests in flight -------------------------------------------------------------------

    def in_flight(self) -> int:
        """Connections whose request has not been answered by the server yet."""
        with self._cond:
            return len(self._busy)

    def peak(self) -> int:
        """The most requests that were in flight at once since start or reset_peak()."""
        with self._cond:
            return self._peak

    def reset_peak(self) -> None:
        with self._cond:
            self._peak = len(self._busy)
            self._cmd_peak = sum(self._pending.values())

    def commands_in_flight(self) -> int:
        """Commands sent by clients whose replies have not come back from the server yet."""
        with self._cond:
            return sum(self._pending.values())

    def command_peak(self) -> int:
        """The most commands that were in flight at once since start or reset_peak()."""
        with self._cond:
            return self._cmd_peak

    def requests(self) -> int:
        """Requests that reached the proxy so far (one per command on an idle connection)."""
        with self._cond:
            return self._requests

    def hold(self, until: int = 0) -> None:
        """Keep commands at the proxy until release(), or until ``until`` are in flight at once."""
        with self._cond:
            self._held, self._release_at = True, until
            self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._held, self._release_at = False, 0
            self._cond.notify_all()

    def wait_in_flight(self, n: int, timeout: float = 30.0) -> bool:
        """Wait until at least n requests are in flight; False if that did not happen in time."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._busy) >= n, timeout)

    def _request_arrived(self, client: socket.socket, commands: int) -> None:
        """Commands from client: count them (never blocks: the hold is the sender's)."""
        if not commands:
            return
        with self._cond:
            if client not in self._busy:
                self._busy.add(client)
                self._requests += 1
                self._peak = max(self._peak, len(self._busy))
            self._pending[client] = self._pending.get(client, 0) + commands
            total = sum(self._pending.values())
            self._cmd_peak = max(self._cmd_peak, total)
            if self._release_at and total >= self._release_at:
                self._held, self._release_at = False, 0
            self._cond.notify_all()

    def _wait_unheld(self) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: not self._held or self._closed, self.give_up):
                self._held, self._release_at = False, 0  # nobody released it: give the hold up
                self._cond.notify_all()

    def _reply_arrived(self, client: socket.socket, replies: int | None) -> None:
        # Counted when the server's reply reaches the proxy, before it is passed on: the client
        # cannot act on it before that. None: the connection closed, nothing is in flight.
        with self._cond:
            left = 0 if replies is None else max(self._pending.get(client, 0) - replies, 0)
            if left:
                self._pending[client] = left
            else:
                self._pending.pop(client, None)
                self._busy.discard(client)
            self._cond.notify_all()

    # -- plumbing -------------------------------------------------------------------------------

    def _accepted(self, client: socket.socket, peer: object) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            if self._closed:
                client.close()
                upstream.close()
                return
            self._sockets += [client, upstream]
        chunks: collections.deque[bytes | None] = collections.deque()
        ready = threading.Condition()
        threading.Thread(target=self._read_client, args=(client, upstream, chunks, ready), daemon=True).start()
        threading.Thread(target=self._send_upstream, args=(client, upstream, chunks, ready), daemon=True).start()
        threading.Thread(target=self._pump_replies, args=(upstream, client), daemon=True).start()

    def _read_client(self, client: socket.socket, upstream: socket.socket,
                     chunks: collections.deque[bytes | None], ready: threading.Condition) -> None:
        """Reads and counts the client's commands, also while a hold keeps them from the server."""
        counter = RespCounter()
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                self._request_arrived(client, counter.feed(data))
                with ready:
                    chunks.append(data)
                    ready.notify()
        except OSError:
            pass
        finally:
            with ready:
                chunks.append(None)
                ready.notify()

    def _send_upstream(self, client: socket.socket, upstream: socket.socket,
                       chunks: collections.deque[bytes | None], ready: threading.Condition) -> None:
        try:
            while True:
                with ready:
                    ready.wait_for(lambda: bool(chunks))
                    data = chunks.popleft()
                if data is None:
                    break
                self._wait_unheld()
                if self.delay:
                    time.sleep(self.delay)  # the latency this proxy exists to add
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(client, upstream)

    def _pump_replies(self, upstream: socket.socket, client: socket.socket) -> None:
        counter = RespCounter()
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                self._reply_arrived(client, counter.feed(data))
                if self.delay:
                    time.sleep(self.delay)  # the latency this proxy exists to add
                client.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(client, upstream)

    def _close_pair(self, client: socket.socket, upstream: socket.socket) -> None:
        self._reply_arrived(client, None)  # a closed connection has nothing in flight
        # Either side closing ends the pair.
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes the other threads' recv
            except OSError:
                pass
            s.close()

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            sockets, self._sockets = self._sockets, []
            self._cond.notify_all()
        super().stop()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class RespCounter:
    """Counts the complete top-level RESP messages in a byte stream fed in chunks (commands one
    way, replies the other; RESP3 pushes are not replies and are not counted). Bytes that break
    RESP count nothing: the proxy only observes, it never judges."""

    _LINE = b"+-:_,#("  # a type byte followed by one line
    _BULK = b"$!="  # a length line, then that many bytes and CRLF
    _AGG = b"*~>"  # n elements
    _PAIRS = b"%|"  # n key/value pairs

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> int:
        self._buf += data
        count, pos = 0, 0
        while True:
            end = self._message_end(pos)
            if end < 0:
                break
            if self._buf[pos:pos + 1] != b">":
                count += 1
            pos = end
        self._buf = self._buf[pos:]
        return count

    def _message_end(self, pos: int) -> int:
        """The end of the message at pos, or -1 when it is not all here."""
        want = 1  # elements still to read
        buf = self._buf
        while want:
            nl = buf.find(b"\r\n", pos)
            if nl < 0 or pos >= len(buf):
                return -1
            kind, line = buf[pos:pos + 1], buf[pos + 1:nl]
            pos = nl + 2
            want -= 1
            if kind in self._LINE or kind not in self._BULK + self._AGG + self._PAIRS:
                continue  # a one-line type, or an inline command
            try:
                n = int(line)
            except ValueError:
                return -1
            if kind in self._BULK:
                if n >= 0:
                    if len(buf) < pos + n + 2:
                        return -1
                    pos += n + 2
            elif kind in self._AGG:
                want += max(n, 0)
            elif kind in self._PAIRS:
                want += 2 * max(n, 0)
            # anything else: an inline command (one line)
        return pos
