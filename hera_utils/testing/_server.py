"""HTTP(S) plumbing shared by the emulators: a loopback server, requests, responses, logs.

Each emulator is a `ThreadingHTTPServer` on 127.0.0.1 (random free port), speaking
HTTP/1.1 with keep-alive like the real servers. TLS is negotiated in the connection's
own thread so a client that never completes a handshake cannot block the others. The
server tracks its connections and threads so that `stop()` returns promptly even while
a request hangs, and leaves no thread or port behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs, unquote

from hera_utils.testing import faults as fault_kinds
from hera_utils.testing.faults import Faults
from hera_utils.testing.tokens import Identity, TokenRegistry

LOOPBACK = "127.0.0.1"
HANDSHAKE_TIMEOUT_S = 5.0
IDLE_CONNECTION_TIMEOUT_S = 30.0  # an abandoned keep-alive connection frees its thread
STOP_TIMEOUT_S = 1.0  # `stop()` returns within about this long, whatever the clients do
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
BAD_GATEWAY_BODY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
# Valid JSON, but not any object of the APIs: a client must not take it for one.
WRONG_SHAPE_BODY = b'{"metadata": "not an object", "items": 42, "status": []}'

_E = TypeVar("_E", bound="Emulator")


class RecordedRequest(NamedTuple):
    """One request as an emulator saw it: method, path as sent (decoded, no query, base
    href included) and the user its token authenticates (None: no valid token)."""

    method: str
    path: str
    user: str | None


class RequestLog:
    """Thread-safe log of the requests an emulator received, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []
        self._queries: list[dict[str, str]] = []
        self._bodies: list[bytes] = []

    def append(self, entry: RecordedRequest, query: dict[str, str], body: bytes = b"") -> None:
        """Record one request with its query parameters and body."""
        with self._lock:
            self._entries.append(entry)
            self._queries.append(query)
            self._bodies.append(body)

    def clear(self) -> None:
        """Forget every request recorded so far."""
        with self._lock:
            self._entries.clear()
            self._queries.clear()
            self._bodies.clear()

    def signatures(self) -> list[tuple[str, str, str, bytes]]:
        """Each request as (method, path, sorted query, body): equal for a repeated request."""
        with self._lock:
            return [
                (entry.method, entry.path, repr(sorted(query.items())), body)
                for entry, query, body in zip(
                    self._entries, self._queries, self._bodies, strict=True
                )
            ]

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested (with `method` only, if given), in order."""
        return [entry.path for entry in self if method is None or entry.method == method]

    def queries(self, path: str) -> list[dict[str, str]]:
        """The query parameters of each request made to exactly `path`, in order."""
        with self._lock:
            return [
                dict(query)
                for entry, query in zip(self._entries, self._queries, strict=True)
                if entry.path == path
            ]

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __getitem__(self, index: int) -> RecordedRequest:
        with self._lock:
            return self._entries[index]

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._entries

    def __repr__(self) -> str:
        return f"RequestLog({list(self)!r})"


class BadRequestBody(ValueError):
    """The request body is not the JSON object an endpoint expects."""


@dataclass
class Request:
    """An HTTP request as the emulators' routers see it."""

    method: str
    raw_path: str  # as sent, without the query string
    path: str | None  # decoded path inside the API (None: outside a base href)
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def param(self, name: str) -> str | None:
        """The (first) value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def bearer_token(self) -> str | None:
        """The token of an `Authorization: Bearer <token>` header, or None."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def json_object(self) -> dict[str, Any]:
        """The body parsed as a JSON object (BadRequestBody otherwise)."""
        try:
            payload = json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequestBody(f"invalid JSON body: {exc}") from exc
        if not isinstance(payload, dict):
            raise BadRequestBody("request body must be a JSON object")
        return payload


# Takes over an upgraded connection: reads the client's bytes, writes the server's.
Upgrade = Callable[[io.BufferedIOBase, io.BufferedIOBase], None]


@dataclass
class Response:
    """What an emulator answers: status, body and content type.

    With `stream`, the body is sent chunk by chunk as it is produced (chunked transfer
    encoding, as log follow does); with `upgrade` (status 101), the connection is handed
    over to it after the headers (as WebSocket does).
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    upgrade: Upgrade | None = None

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        """A JSON response."""
        return cls(status, json.dumps(payload).encode())


class Emulator:
    """Base of the emulators: lifecycle, TLS, faults, request log, authentication.

    Subclasses implement `_dispatch` (route and answer a request), `_internal_error`
    (a 500 in the API's own error shape) and `_missing_endpoint` (its 404 for an unknown
    path), and may override `_api_path` (e.g. to strip a base href).
    """

    def __init__(self, *, tokens: TokenRegistry | None = None, tls: Any = None) -> None:
        self.tokens = tokens if tokens is not None else TokenRegistry()
        self.tls = tls
        self.faults = Faults()
        self.requests = RequestLog()
        self.errors: list[BaseException] = []  # bugs of the emulator itself, for tests
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self: _E) -> _E:
        """Listen on 127.0.0.1 (random free port) and serve in background threads."""
        if self._server is not None:
            return self
        context = self.tls.server_context() if self.tls is not None else None
        self._stopping = threading.Event()
        self._server = _Server(self, context)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-serve",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: release hanging requests, close connections, free the port."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        server.join_threads(STOP_TIMEOUT_S)
        if self._serve_thread is not None:
            self._serve_thread.join(STOP_TIMEOUT_S)
            self._serve_thread = None

    @property
    def running(self) -> bool:
        """Whether the emulator is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The TCP port the emulator listens on."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def host_port(self) -> str:
        """`127.0.0.1:PORT`, as ARGO_SERVER spells a server."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def root_url(self) -> str:
        """`http(s)://127.0.0.1:PORT`, without any path."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host_port}"

    @property
    def url(self) -> str:
        """The URL clients use to reach the emulator."""
        return self.root_url

    def __enter__(self: _E) -> _E:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- hooks for subclasses -----------------------------------------------------------

    def _api_path(self, raw_path: str) -> str | None:
        """The decoded path a request addresses inside the API (None: not served here)."""
        return unquote(raw_path) or "/"

    def _dispatch(self, request: Request) -> Response:
        raise NotImplementedError

    def _internal_error(self, message: str) -> Response:
        raise NotImplementedError

    def _missing_endpoint(self) -> Response:
        """The 404 for a path the server does not serve at all."""
        raise NotImplementedError

    def _identify(self, request: Request) -> Identity | None:
        """The identity behind the request's bearer token, or None."""
        return self.tokens.lookup(request.bearer_token())

    # -- request handling ---------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        """Serve one request on `handler`'s connection: log, misbehave or answer."""
        raw_path, _, query_string = handler.path.partition("?")
        request = Request(
            method=handler.command,
            raw_path=raw_path,
            path=self._api_path(raw_path),
            query=parse_qs(query_string, keep_blank_values=True),
            headers=handler.headers,
            body=handler.read_body(),
        )
        identity = self._identify(request)
        self.requests.append(
            RecordedRequest(request.method, unquote(raw_path), identity.user if identity else None),
            {key: values[0] for key, values in request.query.items()},
            request.body or b"",
        )
        fault = self.faults.take(
            request.raw_path, request.path or request.raw_path, method=request.method
        )
        if fault is not None and fault.after:
            self._spoil(handler, fault.kind, self._answer(request))
            return
        response = self._misbehave(request, fault)
        if response is _NO_ANSWER:
            handler.close_connection = True  # hung until stop, or dropped
            return
        handler.write_response(response or self._answer(request))

    def _spoil(self, handler: _Handler, kind: str, response: Response) -> None:
        """Send the answer of a request already carried out as fault `kind` spoils it."""
        handler.close_connection = True
        closing = {"Connection": "close"}  # so that the client does not reuse the connection
        if kind == fault_kinds.TRUNCATED:
            response.headers.update(closing)
            handler.write_response(response, cut=max(1, len(response.body) // 2))
        elif kind == fault_kinds.BAD_GATEWAY:
            handler.write_response(Response(502, BAD_GATEWAY_BODY, "text/html", closing))
        # LOST_REPLY: nothing is sent; the connection closes.

    def _misbehave(self, request: Request, fault: fault_kinds.Fault | None) -> Response | None:
        """The answer an active fault imposes (_NO_ANSWER: none), or None to answer normally."""
        if fault is None:
            return None
        if fault.kind == fault_kinds.HANG:
            self._stopping.wait()
            return _NO_ANSWER
        if fault.kind == fault_kinds.DROP:
            return _NO_ANSWER
        if fault.kind == fault_kinds.SLOW:
            return _NO_ANSWER if self._stopping.wait(fault.delay) else None
        if fault.kind == fault_kinds.ERROR500:
            return self._internal_error("injected fault: internal error")
        if fault.kind == fault_kinds.NOT_FOUND:
            return self._missing_endpoint()
        if fault.kind == fault_kinds.WRONG_SHAPE:
            return Response(200, WRONG_SHAPE_BODY, "application/json")
        return Response(200, MALFORMED_BODY, "application/json")

    def _answer(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except Exception as exc:  # a bug here must surface as a 500, as a real server's would
            self.errors.append(exc)
            return self._internal_error(f"emulator error: {exc!r}")


# Marks "close the connection without answering" (a response object, to keep types simple).
_NO_ANSWER = Response(0)


class _Handler(BaseHTTPRequestHandler):
    """Reads requests off one connection and hands them to the emulator."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real servers and clients use
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # Buffered: headers and body leave in one segment, flushed after each request, so that
    # Nagle's algorithm and delayed ACKs do not add 40 ms to every answer.
    wbufsize = -1
    server: _Server

    def _serve(self) -> None:
        self.server.emulator._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def read_body(self) -> bytes:
        """The request body, from Content-Length or chunked transfer encoding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def write_response(self, response: Response, *, cut: int | None = None) -> None:
        """Send `response` with an exact Content-Length (needed for keep-alive).

        `cut`: send only that many bytes of the body (the header still announces all).
        """
        if response.upgrade is not None:
            self._switch_protocols(response, response.upgrade)
            return
        if response.stream is not None:
            self._write_stream(response, response.stream)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body if cut is None else response.body[:cut])

    def _write_stream(self, response: Response, chunks: Iterable[bytes]) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        for chunk in chunks:
            if self.server.emulator._stopping.is_set():
                self.close_connection = True
                return
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()  # a follower sees each line as it is written
        self.wfile.write(b"0\r\n\r\n")

    def _switch_protocols(self, response: Response, upgrade: Upgrade) -> None:
        self.send_response(101)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True  # the connection is no HTTP any more
        self.connection.settimeout(None)  # an exec may stay quiet for long
        try:
            upgrade(self.rfile, self.wfile)
        finally:
            with contextlib.suppress(OSError):
                self.wfile.flush()
            with contextlib.suppress(OSError):  # wakes whatever still reads the connection
                socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `emulator.requests` instead of stderr."""


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that tracks its connections and threads for a prompt stop."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, emulator: Emulator, tls_context: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.tls_context = tls_context
        self._track_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connection_threads: set[threading.Thread] = set()
        super().__init__((LOOPBACK, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"{type(self.emulator).__name__}-connection",
            daemon=True,
        )
        with self._track_lock:
            self._connection_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._track_lock:
                self._connection_threads.discard(threading.current_thread())

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = request
        if self.tls_context is not None:
            connection = self.tls_context.wrap_socket(
                request, server_side=True, do_handshake_on_connect=False
            )
        # Tracked before the TLS handshake, so that stop() interrupts a client stuck in it.
        with self._track_lock:
            self._connections.add(connection)
        try:
            if self.emulator._stopping.is_set():
                return
            if isinstance(connection, ssl.SSLSocket):
                connection.settimeout(HANDSHAKE_TIMEOUT_S)
                connection.do_handshake()
            # typeshed types the handler's server as BaseServer's `Self`, which this is.
            self.RequestHandlerClass(connection, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._track_lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # Clients that hang up, time out or refuse our certificate are part of the tests.
        if isinstance(error, (OSError, ssl.SSLError)):
            return
        if error is not None:
            self.emulator.errors.append(error)

    def close_connections(self) -> None:
        """Shut every open connection down, waking threads blocked reading from them."""
        with self._track_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                # The plain socket call: it works the same on TLS sockets, from any thread.
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def join_threads(self, timeout: float) -> None:
        """Wait (at most `timeout` s in all) for the connection threads to finish."""
        deadline = time.monotonic() + timeout
        with self._track_lock:
            threads = list(self._connection_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
