"""A TCP proxy on loopback that can freeze, reset or cut the connections it carries.

Test support for the SQL adapter under connection faults: point the adapter's URL at
`proxy.port` instead of the server's.

- `freeze()`: forward nothing in either direction (data waits), and new connections are
  accepted but get no answer: a database that hangs. `thaw()` forwards again.
- `reset()`: end every current connection with a TCP reset (a restarted server, a failover, a
  firewall dropping its state); new connections work.
- `cut_at(pattern, deliver=...)`: the next time the client sends `pattern`, the client's
  connection is reset; with `deliver=True` the data first reaches the server and the server's
  answer is swallowed (the server did it, the client never heard), otherwise the data is
  dropped (the server never saw it).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

_CHUNK = 65536


def _kill(sock: socket.socket) -> None:
    """Close `sock` with a TCP reset, waking a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class _Pair:
    """One client connection and its connection to the server."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.dead = False
        self.cutting = False

    def start(self) -> None:
        for source, target, upstream in (
            (self.client, self.server, True),
            (self.server, self.client, False),
        ):
            threading.Thread(
                target=self._pump, args=(source, target, upstream), daemon=True
            ).start()

    def kill(self) -> None:
        self.dead = True
        _kill(self.client)
        _kill(self.server)

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        proxy = self.proxy
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data or self.dead:
                    break
                proxy.wait_while_frozen(self)
                if self.dead:
                    break
                if upstream and proxy.take_cut(data):
                    self._cut(data)
                    return  # the other pump ends the server's side
                target.sendall(data)
        except OSError:
            pass
        # Not in a `finally`: after a delivered cut the server's side stays open for its answer.
        self.kill()
        proxy.forget(self)
        if self.cutting:
            proxy.cut_done.set()

    def _cut(self, data: bytes) -> None:
        self.cutting = True
        self.dead = True  # the server-to-client pump forwards nothing more
        _kill(self.client)
        if self.proxy.cut_delivers:
            with contextlib.suppress(OSError):
                self.server.sendall(data)  # the answer ends the other pump, which kills both
        else:
            _kill(self.server)
            self.proxy.cut_done.set()


class FaultProxy:
    """A threaded TCP proxy from 127.0.0.1:`port` to `target`; see the module docstring."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._thawed = threading.Condition(self._lock)
        self._frozen = False
        self._pairs: set[_Pair] = set()
        self._cut_pattern: bytes | None = None
        self.cut_delivers = False
        self.cut_done = threading.Event()
        self.accepted = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    # -- faults ---------------------------------------------------------------------------------

    def freeze(self) -> None:
        """Forward nothing from now on (held data goes on after `thaw`)."""
        with self._lock:
            self._frozen = True

    def thaw(self) -> None:
        """Forward again."""
        with self._lock:
            self._frozen = False
            self._thawed.notify_all()

    def reset(self) -> int:
        """Reset every current connection; how many there were."""
        with self._lock:
            pairs, self._pairs = set(self._pairs), set()
        for pair in pairs:
            pair.kill()
        return len(pairs)

    def cut_at(self, pattern: bytes, *, deliver: bool) -> None:
        """Reset the connection that next sends `pattern` (once); see the module docstring."""
        with self._lock:
            self._cut_pattern = pattern
            self.cut_delivers = deliver
            self.cut_done.clear()

    @property
    def connections(self) -> int:
        """How many connections the proxy carries now."""
        with self._lock:
            return len(self._pairs)

    # -- plumbing -------------------------------------------------------------------------------

    def take_cut(self, data: bytes) -> bool:
        with self._lock:
            if self._cut_pattern is None or self._cut_pattern not in data:
                return False
            self._cut_pattern = None
            return True

    def wait_while_frozen(self, pair: _Pair) -> None:
        with self._lock:
            while self._frozen and not pair.dead and not self._closed:
                self._thawed.wait(0.1)

    def forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
            server.settimeout(None)
        except OSError:
            _kill(client)
            return
        pair = _Pair(self, client, server)
        with self._lock:
            self.accepted += 1
            self._pairs.add(pair)
        pair.start()

    def close(self) -> None:
        """Stop accepting, and reset what is left."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.thaw()
        self.reset()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """A `FaultProxy` to `target`, closed at the end."""
    proxy = FaultProxy(target_host, target_port)
    try:
        yield proxy
    finally:
        proxy.close()
