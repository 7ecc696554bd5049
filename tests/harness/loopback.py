"""What the loopback test servers of this harness share: a listener on 127.0.0.1, one thread that
accepts connections, start/stop and the context manager. A subclass says what to do with each
connection it accepts (``_accepted``) and extends ``stop``.
"""
from __future__ import annotations

import socket
import threading
from typing import TypeVar

S = TypeVar("S", bound="LoopbackServer")


class LoopbackServer:
    def __init__(self, name: str) -> None:
        # A deep accept queue: a test may open a hundred connections at once while this process
        # is busy, and a full queue turns into connect timeouts.
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
        self.port = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True)

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self: S) -> S:
        self._accepter.start()
        return self

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return  # stopped
            self._accepted(conn, peer)

    def _accepted(self, conn: socket.socket, peer: object) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting (the subclass closes its connections)."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread (close alone does not)
        except OSError:
            pass
        self._listener.close()
        self._accepter.join(timeout=5)
