"""A loopback TCP proxy that can delay and hold traffic, and counts requests in flight.

Every chunk it forwards, in either direction, waits ``delay`` seconds first (0 by default). It
counts, per client connection, whether a request is *in flight*: a chunk came from the client and
no reply chunk has come back from the server since. ``in_flight()`` is the number of connections
with a request in flight now, ``peak()`` the most there ever were at once (``reset_peak()`` starts
over), ``requests()`` how many requests went through. Pipelined commands on one connection count
as one request in flight; the clients under test send one command at a time per connection.

``hold()`` keeps every request at the proxy (counted as in flight, not yet sent to the server) until
``release()``; ``hold(until=n)`` releases them by itself as soon as ``n`` are held at once. That
turns "these calls overlap" into a fact a test can assert without timing: calls that overlap reach
``n`` together, calls that queue one behind the other never get past 1. A hold that nothing
releases ends after ``give_up`` seconds, so a failing test fails on its assertion, not on a hang.

Threads, not asyncio, so it runs beside whatever event loop the test uses: one accept thread and
two pump threads per connection. Loopback only.
"""
from __future__ import annotations

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
        self._busy: set[socket.socket] = set()  # client sockets with a request in flight
        self._peak = 0
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

    def requests(self) -> int:
        """Requests that reached the proxy so far (one per command on an idle connection)."""
        with self._cond:
            return self._requests

    def hold(self, until: int = 0) -> None:
        """Keep requests at the proxy until release(), or until ``until`` are in flight at once."""
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

    def _request_arrived(self, client: socket.socket) -> None:
        """A chunk from client: count it, then wait while the proxy holds requests."""
        with self._cond:
            if client not in self._busy:
                self._busy.add(client)
                self._requests += 1
                self._peak = max(self._peak, len(self._busy))
            if self._release_at and len(self._busy) >= self._release_at:
                self._held, self._release_at = False, 0
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: not self._held or self._closed, self.give_up):
                self._held, self._release_at = False, 0  # nobody released it: give the hold up
                self._cond.notify_all()

    def _reply_arrived(self, client: socket.socket) -> None:
        # Counted when the server's reply reaches the proxy, before it is passed on: the client
        # cannot send its next request on this connection before that.
        with self._cond:
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
        threading.Thread(target=self._pump, args=(client, upstream, client), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if src is client:
                    self._request_arrived(client)
                else:
                    self._reply_arrived(client)
                if self.delay:
                    time.sleep(self.delay)  # the latency this proxy exists to add
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._reply_arrived(client)  # a closed connection has nothing in flight
            # Either side closing ends the pair.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes the other pump's recv
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
