"""A loopback HTTP server that answers like Slack's Web API and an incoming webhook.

Only the outside network is faked: slack-sdk's real ``WebClient`` and
``WebhookClient`` talk to it over HTTP (``base_url``). It implements
``chat.postMessage``, ``chat.update`` and ``users.lookupByEmail`` with Slack's
response shapes and errors (``invalid_auth``, ``channel_not_found``,
``message_not_found``, ``users_not_found``, HTTP 429 with ``Retry-After``),
and can be stopped and started again on the same port to play an outage.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


@dataclass
class Posted:
    """A message as Slack keeps it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    reply_broadcast: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_text(self) -> str:
        """The text and every block's text, to search in."""
        return self.text + "\n" + json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class Scripted:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]


class FakeSlack:
    """The fake Slack; ``base_url`` for ``WebClient``, ``webhook_url`` for ``WebhookClient``."""

    def __init__(self, token: str = "xoxb-test-token", webhook_path: str = "/services/T000/B000/hooksecret") -> None:
        self.tokens = {token}
        self.webhook_path = webhook_path
        self.channels = {"#data-alerts": "C0DATA", "#finance": "C0FIN", "#oncall": "C0ONCALL"}
        self.users = {"ana@example.com": "U0ANA"}
        self.messages: list[Posted] = []
        self.webhook_messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.scripts: dict[str, list[Scripted]] = {}
        self.lookups = 0
        self._ts = 1700000000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.start()

    # -- control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.webhook_path}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The outage: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def script(self, method: str, status: int, body: dict[str, Any] | str, times: int = 1, **headers: str) -> None:
        """Answer the next ``times`` calls of ``method`` (or ``webhook``) like this."""
        self.scripts.setdefault(method, []).extend(Scripted(status, body, headers) for _ in range(times))

    def rate_limit(self, method: str, times: int, retry_after: int = 0) -> None:
        self.script(method, 429, {"ok": False, "error": "ratelimited"}, times, **{"Retry-After": str(retry_after)})

    def top_level(self) -> list[Posted]:
        return [message for message in self.messages if message.thread_ts is None]

    def replies(self, parent: Posted) -> list[Posted]:
        return [message for message in self.messages if message.thread_ts == parent.ts]

    # -- the API

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        url = urlsplit(request.path)
        with self._lock:
            self.requests.append((request.path, dict(request.headers), raw))
            if url.path == self.webhook_path or url.path.startswith("/services/"):
                status, body, headers = self._webhook(url.path, raw)
            elif url.path.startswith("/api/"):
                params = {key: values[0] for key, values in parse_qs(url.query).items()}
                params.update(self._body(request, raw))
                status, body, headers = self._api(url.path.removeprefix("/api/"), request, params)
            else:
                status, body, headers = 404, "not found", {}
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        request.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    @staticmethod
    def _body(request: BaseHTTPRequestHandler, raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        if "json" in (request.headers.get("Content-Type") or ""):
            return dict(json.loads(raw))
        return {key: values[0] for key, values in parse_qs(raw.decode()).items()}

    def _scripted(self, method: str) -> Scripted | None:
        queue = self.scripts.get(method)
        return queue.pop(0) if queue else None

    def _api(self, method: str, request: BaseHTTPRequestHandler, params: dict[str, Any]) -> tuple[int, Any, dict]:
        scripted = self._scripted(method)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token not in self.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method == "chat.postMessage":
            return self._post(params)
        if method == "chat.update":
            return self._update(params)
        if method == "users.lookupByEmail":
            self.lookups += 1
            user = self.users.get(params.get("email", ""))
            if user is None:
                return 200, {"ok": False, "error": "users_not_found"}, {}
            return 200, {"ok": True, "user": {"id": user, "profile": {"email": params["email"]}}}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _channel(self, name: str) -> str | None:
        if name in self.channels.values():
            return name
        return self.channels.get(name) or self.channels.get("#" + name)

    def _post(self, params: dict[str, Any]) -> tuple[int, Any, dict]:
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if not params.get("text") and not params.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, {}
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if len(blocks) > 50:
            return 200, {"ok": False, "error": "invalid_blocks"}, {}
        self._ts += 1
        ts = f"{self._ts}.000100"
        thread_ts = params.get("thread_ts")
        if thread_ts is not None and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            thread_ts = None  # Slack posts to the channel when the parent is unknown
        broadcast = params.get("reply_broadcast") in (True, "1", "true")
        message = Posted(channel, ts, str(params.get("text", "")), blocks, thread_ts, broadcast)
        self.messages.append(message)
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}, {}

    def _update(self, params: dict[str, Any]) -> tuple[int, Any, dict]:
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        for message in self.messages:
            if message.channel == channel and message.ts == params.get("ts"):
                blocks = params.get("blocks") or []
                message.edits.append({"text": message.text, "blocks": message.blocks})
                message.text = str(params.get("text", message.text))
                message.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
                return 200, {"ok": True, "channel": channel, "ts": message.ts, "text": message.text}, {}
        return 200, {"ok": False, "error": "message_not_found"}, {}

    def _webhook(self, path: str, raw: bytes) -> tuple[int, Any, dict]:
        scripted = self._scripted("webhook")
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        if path != self.webhook_path:
            return 403, "invalid_token", {}
        self.webhook_messages.append(json.loads(raw))
        return 200, "ok", {}
