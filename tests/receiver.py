"""A webhook receiver on loopback for the tests: a real HTTP server in a thread that records what it is sent.

It answers with the statuses it is told (``answers``, then ``default``), and can hold a request unanswered
(``hold``) until the test lets it go — the moment to kill the worker that sent it. ``acknowledged`` lists the
requests it answered 2xx to a client still there to read it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


@dataclass
class Receiver:
    url: str = ""
    answers: list[int] = field(default_factory=list)
    default: int = 200
    hold: bool = False  # hold the next request unanswered until ``release``
    requests: list[Received] = field(default_factory=list)
    acknowledged: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: dict[str, str], body: bytes) -> tuple[Received, bool]:
        with self.lock:
            status = self.answers.pop(0) if self.answers else self.default
            received = Received(headers, body, status)
            self.requests.append(received)
            held, self.hold = self.hold, False
        self.arrived.set()
        return received, held

    def release(self) -> None:
        self.released.set()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received, held = receiver.take({k.lower(): v for k, v in self.headers.items()}, body)
            if held:
                receiver.released.wait(60)
            try:
                self.send_response(received.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
            except OSError:
                return  # the sender is gone (killed): nobody read the answer
            if 200 <= received.status < 300 and not held:
                with receiver.lock:
                    receiver.acknowledged.append(received)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) for the ``with`` block."""
    receiver = Receiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
