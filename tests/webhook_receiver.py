"""A local HTTP receiver of Cadence's webhooks for the tests: it records every request
(headers and body) and answers with the status codes it is told, 204 by default; and
the verification recipe of docs/webhooks.md, taken from the document itself."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class WebhookReceiver:
    """``answers``: status codes for the next requests, in order (then 204);
    ``check``: called with each request's headers and body, answers 400 when false
    (a receiver verifying signatures)."""

    def __init__(self, check: Any = None) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self.check = check
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with owner.lock:
                    code = owner.answers.popleft() if owner.answers else 204
                    if owner.check is not None and not owner.check(headers, body):
                        code = 400
                    owner.received.append(Received(self.path, headers, body, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cadence"

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def documented_verify() -> Callable[[str, str, bytes], bool]:
    """The ``verify`` function of docs/webhooks.md ("Verifying a request"), run as
    written: the code block is extracted from the document and executed."""
    text = DOC.read_text()
    section = text.split("## Verifying a request", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None, "docs/webhooks.md lost its verification example"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    return cast(Callable[[str, str, bytes], bool], namespace["verify"])
