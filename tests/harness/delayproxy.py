"""A loopback TCP proxy that adds latency: every chunk it forwards, in either direction, waits
``delay`` seconds first. Used to give a real redis-server a measurable round trip (2 x delay plus
the proxy's own cost), so that overlapping and queued calls differ by far more than the noise.

Threads, not asyncio, so it runs beside whatever event loop the test uses: one accept thread and
two pump threads per connection. Loopback only.
"""
from __future__ import annotations

import socket
import threading
import time


class DelayProxy:
    def __init__(self, target_host: str, target_port: int, delay: float = 0.001) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._accepter = threading.Thread(target=self._accept, name="delayproxy-accept", daemon=True)

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DelayProxy":
        self._accepter.start()
        return self

    def __enter__(self) -> "DelayProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connections(self) -> int:
        """Client connections currently open through the proxy."""
        with self._lock:
            return sum(1 for s in self._sockets if s.fileno() != -1) // 2

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                time.sleep(self.delay)  # the latency this proxy exists to add
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # Either side closing ends the pair.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes the other pump's recv
                except OSError:
                    pass
                s.close()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        self._listener.close()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._accepter.join(timeout=5)
