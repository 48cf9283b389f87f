"""A local WooCommerce REST API v3 stand-in: a thread on 127.0.0.1 for tests."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from executions.demo import CATEGORIES, PRODUCTS

KEY, SECRET = "ck_live_4f1d2e3c9a8b7766", "cs_live_s3cr3t_9f8e7d6c5b4a"
# Requests with this consumer key hang: a shop that accepts and never answers.
HANG_KEY = "ck_hang_0000000000000000"


class FakeShop:
    def __init__(self) -> None:
        self.hang_seconds = 0.0
        self.requests: list[str] = []
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                shop.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: and never print what a client sent

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeShop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hang_seconds = 0
        self.server.shutdown()
        self.server.server_close()

    def cfg(self, **overrides: Any) -> dict[str, Any]:
        return {
            "url": self.url,
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            **overrides,
        }

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append(parts.path)
        if self.hang_seconds or HANG_KEY in self._key(request, query):
            time.sleep(self.hang_seconds or 30)
        if not self._authorised(request, query):
            self._send(
                request,
                401,
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
            return
        if parts.path == "/wp-json/wc/v3/products/categories":
            rows = CATEGORIES
        elif parts.path == "/wp-json/wc/v3/products":
            category = query.get("category")
            rows = [
                p
                for p in PRODUCTS
                if not category
                or any(str(c["id"]) == category for c in p["categories"])
            ]
        else:
            self._send(request, 404, {"code": "rest_no_route", "message": "No route"})
            return
        per_page = int(query.get("per_page", 10))
        page = int(query.get("page", 1))
        total_pages = max(1, -(-len(rows) // per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        self._send(
            request,
            200,
            chunk,
            {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(total_pages)},
        )

    @staticmethod
    def _key(request: BaseHTTPRequestHandler, query: dict[str, str]) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode()
        return query.get("consumer_key", "")

    @staticmethod
    def _authorised(request: BaseHTTPRequestHandler, query: dict[str, str]) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            key, secret = (
                query.get("consumer_key", ""),
                query.get("consumer_secret", ""),
            )
        return key == KEY and secret == SECRET

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=UTF-8")
            request.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out) first
