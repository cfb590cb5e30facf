"""The HTTP side of `orion serve`: the standard library's threading server, read-only.

Safe by default: GET and HEAD only; on a non-loopback address every request must carry
the token (`?token=`, which also sets a cookie for the page's own requests, or an
`Authorization: Bearer` header); on loopback, a Host header naming another machine is
refused (DNS rebinding); static files come from a fixed table, trace ids are looked up
by the catalog, and no part of a URL is ever joined into a path. Every answer forbids
inline script (Content-Security-Policy) and sniffing.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import queue
import secrets
import socket
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from ..render.jsonout import dumps
from ..spool import TRACE_SUFFIX
from .api import Api, ApiError
from .catalog import TRACE_REF, Catalog

STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
PAGE = "index.html"
TOKEN_COOKIE = "orion_token"
HEARTBEAT_SECONDS = 15
WRITES = frozenset({"created", "moved", "modified", "closed", "deleted"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Live:
    """Server-Sent Events to every open page when a trace appears or changes in a watched
    directory (watchdog), so lists update without reload."""

    def __init__(self, directories: list[Path], on_change) -> None:
        self.clients: set[queue.Queue] = set()
        self.lock = threading.Lock()
        self.on_change = on_change
        self.observer = None
        self.directories = directories

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        live = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type not in WRITES:
                    return  # opened and read by us or anyone: nothing new to show
                for name in (getattr(event, "dest_path", ""), event.src_path):
                    path = Path(str(name))
                    if path.name.endswith(TRACE_SUFFIX) and not path.name.startswith("."):
                        live.publish(path, event.event_type)
                        return

        self.observer = Observer()
        for directory in self.directories:
            directory.mkdir(parents=True, exist_ok=True)
            self.observer.schedule(Handler(), str(directory), recursive=False)
        self.observer.daemon = True
        self.observer.start()

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()

    def publish(self, path: Path, kind: str) -> None:
        self.on_change()
        message = {"kind": kind, "id": _trace_id(path.name)}
        with self.lock:
            for client in self.clients:
                client.put(message)

    def subscribe(self) -> queue.Queue:
        client: queue.Queue = queue.Queue()
        with self.lock:
            self.clients.add(client)
        return client

    def unsubscribe(self, client: queue.Queue) -> None:
        with self.lock:
            self.clients.discard(client)


def _trace_id(name: str) -> str | None:
    stem = name[:-len(TRACE_SUFFIX)].rsplit("-", 1)[-1]
    return stem if TRACE_REF.match(stem) else None


class OrionServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a page opens several connections; 5 made clients wait 1-3 s

    def __init__(self, address: tuple[str, int], catalog: Catalog,
                 token: str | None = None) -> None:
        self.api = Api(catalog)
        self.token = token
        self.loopback = is_loopback(address[0])
        if not self.loopback and not token:
            raise ValueError("a token is required to serve beyond loopback")
        self.live = Live(catalog.watched_directories(), self.api.listing.changed)
        self.stopping = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def serve(self) -> None:
        self.live.start()
        # Read every summary now, so the first page (often opened seconds later) is quick.
        threading.Thread(target=self.api.listing.items, daemon=True,
                         name="orion-listing").start()
        try:
            self.serve_forever(poll_interval=0.2)
        finally:
            self.stopping.set()
            self.api.listing.stop()
            self.live.stop()

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()


class Handler(BaseHTTPRequestHandler):
    server: OrionServer
    server_version = "orion-serve"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
        pass  # quiet: a user runs `orion serve` in a terminal; errors show in the page

    # -- answers -----------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        body = data if isinstance(data, bytes) else dumps(data).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message, "status": status})

    # -- checks ------------------------------------------------------------------------

    def _allowed(self, query: dict[str, str]) -> tuple[bool, dict[str, str]]:
        """Whether the request may be answered; the cookie to set when a token came in
        the URL."""
        server = self.server
        if server.loopback:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            return is_loopback(host), {}
        given = query.get("token")
        if given is None:
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                given = auth[len("Bearer "):]
        if given is None:
            cookie = SimpleCookie(self.headers.get("Cookie") or "")
            given = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None
        if given is None or not hmac.compare_digest(given.encode(), server.token.encode()):
            return False, {}
        if "token" in query:
            return True, {"Set-Cookie": f"{TOKEN_COOKIE}={server.token}; HttpOnly; "
                                        f"SameSite=Strict; Path=/"}
        return True, {}

    # -- routes ------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        allowed, cookie = self._allowed(query)
        if not allowed:
            self._error(403, "forbidden: give the token printed by `orion serve` (?token=)")
            return
        # Split before decoding: an encoded slash stays inside one part (and names nothing).
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        try:
            if parts[0] == "api":
                if parts[1:] == ["live"]:
                    self._live()
                else:
                    self._json(200, self.server.api.route(parts[1:], query))
            elif parts == [""] or (len(parts) == 2 and parts[0] == "trace"):
                if parts[0] == "trace":
                    self.server.api.preload(parts[1])
                page = resources.files(__package__).joinpath("static", PAGE).read_bytes()
                self._send(200, page, "text/html; charset=utf-8", cookie)
            elif len(parts) == 2 and parts[0] == "static" and parts[1] in STATIC:
                body = resources.files(__package__).joinpath("static", parts[1]).read_bytes()
                self._send(200, body, STATIC[parts[1]])
            else:
                self._error(404, "not found")
        except ApiError as exc:
            self._error(exc.status, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - one bad trace never stops the server
            self._error(500, f"{type(exc).__name__}: {exc}")

    def do_POST(self) -> None:
        self._error(405, "read-only: only GET and HEAD")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _live(self) -> None:
        """Server-Sent Events: `trace` events as files appear, a comment as heartbeat."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        live = self.server.live
        client = live.subscribe()
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while not self.server.stopping.is_set():
                try:
                    message = client.get(timeout=HEARTBEAT_SECONDS)
                    data = f"event: trace\ndata: {json.dumps(message)}\n\n"
                except queue.Empty:
                    data = ": heartbeat\n\n"
                self.wfile.write(data.encode("utf-8"))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            live.unsubscribe(client)
