"""A fault-injecting HTTP proxy to put in front of a real registry (test tooling).

Real registries fail on demand only in the ways they are configured to; networks and the
proxies in front of registries fail in others. ``FaultProxy`` forwards every request to an
upstream registry, streaming bodies both ways in small pieces (blobs of hundreds of MiB pass
through in constant memory), and applies programmable faults to chosen requests::

    proxy = FaultProxy(registry.url)
    proxy.add_rule("GET", r"/tags/list", Respond(429, headers={"Retry-After": "1"}), times=2)
    proxy.add_rule("GET", r"/blobs/sha256:", Drop(after=1 << 20))
    ... point a client at proxy.host ...
    assert any(e.headers.get("range") for e in proxy.log)

A rule matches a method (``None``: any) and a regular expression searched in the request
target (path and query). ``times`` is how many matching requests it applies to (``None``:
all of them), after letting the first ``skip`` matches through untouched, so a test decides
exactly which request fails. The first applicable rule wins; the others do not see it.

Faults: ``Drop`` (close the connection after K bytes of the response body), ``DropUpload``
(after K bytes of the request body), ``Respond`` (any synthetic answer: 429 + Retry-After,
500/502/503, an HTML page, garbage or huge JSON), ``Delay`` (wait before answering),
``Hold`` (wait for the test's signal), ``Throttle`` (bytes per second), ``Truncate`` (a
well-formed but short body), ``Corrupt`` (flip one byte, length unchanged) and
``ExpireToken`` (a 401 carrying the upstream's own challenge, as if the bearer token had
expired early).

``Location`` and ``Link`` headers are rewritten to point back at the proxy, so a client never
talks to the upstream behind its back. ``log`` records every exchange: method, target, request
headers (``Authorization`` reduced to its scheme and a fingerprint), status, bytes each way
and the fault applied.

Test support (never the library under test): the standard library only.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from devstack import LocalRegistry

PIECE = 64 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "expect"}
_BODYLESS_STATUS = {204, 304}
_HTML = (b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
         b"<body><h1>Please sign in</h1></body></html>")


# -- faults ---------------------------------------------------------------------------------------

class Fault:
    """Base class: what the proxy does to a matching request instead of forwarding it as is."""


@dataclass(frozen=True)
class Drop(Fault):
    """Forward, but close the connection after ``after`` bytes of the response body (the
    headers, with the full ``Content-Length``, have gone out: the client sees a short read)."""
    after: int = 0


@dataclass(frozen=True)
class DropUpload(Fault):
    """Forward, but reset both connections after ``after`` bytes of the request body."""
    after: int = 0


@dataclass(frozen=True)
class Respond(Fault):
    """Answer without asking the upstream (the request body is read and discarded)."""
    status: int = 503
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def html(cls, status: int = 200) -> "Respond":
        """A web page where the API belongs: a login portal or a misconfigured proxy."""
        return cls(status, _HTML, "text/html; charset=utf-8")

    @classmethod
    def json(cls, body: bytes | str, status: int = 200, content_type: str = "application/json",
             **headers: str) -> "Respond":
        """A JSON (or would-be JSON) body: garbage, a huge list, an unknown manifest."""
        return cls(status, body.encode() if isinstance(body, str) else body, content_type,
                   dict(headers))


@dataclass(frozen=True)
class Delay(Fault):
    """Wait ``seconds`` before forwarding (a slow registry: the client sees no byte meanwhile)."""
    seconds: float = 1.0


@dataclass(frozen=True)
class Hold(Fault):
    """Forward only once ``release`` is set (or after ``timeout`` s): lets a test line up
    concurrent requests, e.g. two clients uploading the same blob at once."""
    release: threading.Event
    timeout: float = 30.0


@dataclass(frozen=True)
class Throttle(Fault):
    """Forward, passing at most ``bytes_per_second`` of the response body, or with
    ``upload=True`` of the request body."""
    bytes_per_second: int = 1 << 20
    upload: bool = False


@dataclass(frozen=True)
class Truncate(Fault):
    """Forward only the first ``after`` bytes of the response body, with a ``Content-Length``
    that says so: a well-formed answer whose content is short (only a digest can tell)."""
    after: int = 0


@dataclass(frozen=True)
class Corrupt(Fault):
    """Forward, flipping the byte at ``offset`` of the response body; the length is unchanged."""
    offset: int = 0


@dataclass(frozen=True)
class ExpireToken(Fault):
    """Answer an authorized request with 401 and the upstream's challenge plus
    ``error="invalid_token"``, as distribution does for a token that has expired. Requests
    without ``Authorization`` are forwarded untouched and do not use the rule up."""


@dataclass
class Rule:
    method: str | None
    path: re.Pattern[str]
    fault: Fault
    times: int | None = 1
    skip: int = 0
    seen: int = 0  # matching requests so far
    applied: int = 0  # requests the fault was applied to

    def matches(self, method: str, target: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(target))

    @property
    def used_up(self) -> bool:
        return self.times is not None and self.applied >= self.times


@dataclass
class Exchange:
    """One request as the proxy saw it. ``headers`` keys are lower case; ``status`` is None
    when no response was sent (a dropped upload); ``done`` once the exchange is over."""
    method: str
    path: str
    headers: dict[str, str]
    fault: str | None = None
    status: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    done: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


class _Abort(Exception):
    """Stop this exchange and reset the client connection."""


# -- the proxy ------------------------------------------------------------------------------------

class FaultProxy:
    """A loopback HTTP proxy in front of ``upstream`` (``http://host:port`` or ``https://...``
    with ``ca_file``). Starts on construction; ``close()`` (or ``with``) stops it."""

    def __init__(self, upstream: str, *, ca_file: str | None = None, port: int = 0,
                 timeout: float = 120.0):
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be http(s)://host:port, not {upstream!r}")
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self._upstream_parts = parts
        self._ssl = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        self.timeout = timeout
        self._rules: list[Rule] = []
        self._log: list[Exchange] = []
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()
        self.registry: "LocalRegistry | None" = None

    @classmethod
    def in_front_of(cls, registry: "LocalRegistry", *, port: int = 0,
                    timeout: float = 120.0) -> "FaultProxy":
        """A proxy for a ``LocalRegistry`` (kept as ``.registry``, to seed it directly)."""
        proxy = cls(registry.url, ca_file=str(registry.ca_file) if registry.ca_file else None,
                    port=port, timeout=timeout)
        proxy.registry = registry
        return proxy

    # -- public surface -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        """What goes in an image reference: ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log(self) -> list[Exchange]:
        """Every exchange so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._log)

    def exchanges(self, method: str | None = None, path: str = "") -> list[Exchange]:
        """The logged exchanges of ``method`` whose target matches the regex ``path``."""
        pattern = re.compile(path)
        return [e for e in self.log
                if (method is None or e.method == method) and pattern.search(e.path)]

    def add_rule(self, method: str | None, path: str, fault: Fault, *, times: int | None = 1,
                 skip: int = 0) -> Rule:
        """Apply ``fault`` to the next ``times`` requests (``None``: all) of ``method`` whose
        target matches the regex ``path``, after ``skip`` matching requests pass untouched."""
        rule = Rule(method.upper() if method else None, re.compile(path), fault, times, skip)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self, *, log: bool = True) -> None:
        """Forget every rule (and, by default, the log)."""
        with self._lock:
            self._rules.clear()
            if log:
                self._log.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            live = list(self._sockets)
        for sock in live:  # kept-alive client connections would otherwise linger
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultProxy({self.url} -> {self.upstream}, {len(self._rules)} rules)"

    # -- internals ----------------------------------------------------------------------------

    def _pick(self, method: str, target: str, authorized: bool) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.used_up or not rule.matches(method, target):
                    continue
                if isinstance(rule.fault, ExpireToken) and not authorized:
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.applied += 1
                return rule.fault
        return None

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._log.append(exchange)

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._upstream_parts.hostname, self._upstream_parts.port
        if self._ssl is not None:
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _rewrite(self, value: str) -> str:
        """Upstream absolute URLs in ``Location``/``Link`` point back at the proxy."""
        return value.replace(self.upstream, self.url)


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        pass
    Handler.proxy = proxy
    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as registries and their clients use
    proxy: FaultProxy
    timeout = 120  # an idle kept-alive connection is dropped after this

    def setup(self) -> None:
        super().setup()
        with self.proxy._lock:
            self.proxy._sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        with self.proxy._lock:
            self.proxy._sockets.discard(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the exchange log is the record

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, _Abort):
            self.close_connection = True

    # -- one exchange ---------------------------------------------------------------------------

    def _exchange(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        shown = dict(headers)
        if "authorization" in shown:
            # The scheme and a fingerprint: enough to tell one credential from another.
            scheme, _, secret = shown["authorization"].partition(" ")
            print_ = hashlib.sha256(secret.encode()).hexdigest()[:8]
            shown["authorization"] = f"{scheme} <redacted {print_}>"
        fault = self.proxy._pick(self.command, self.path, "authorization" in headers)
        exchange = Exchange(self.command, self.path, shown,
                            type(fault).__name__ if fault else None)
        self.proxy._record(exchange)
        try:
            if isinstance(fault, Respond):
                exchange.bytes_in = self._drain()
                self._answer(exchange, fault.status, fault.body,
                             {"Content-Type": fault.content_type, **fault.headers})
            elif isinstance(fault, ExpireToken):
                exchange.bytes_in = self._drain()
                self._expired(exchange)
            else:
                if isinstance(fault, Delay):
                    time.sleep(fault.seconds)
                elif isinstance(fault, Hold):
                    fault.release.wait(fault.timeout)
                self._forward(exchange, fault)
        except (ConnectionError, socket.timeout, _Abort):
            self._reset()
            raise _Abort()
        finally:
            exchange.done, exchange.finished = True, time.monotonic()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _exchange

    def _answer(self, exchange: Exchange, status: int, body: bytes,
                headers: dict[str, str]) -> None:
        # Logged before the answer goes out: a client may read it and look at the log
        # before this thread runs again.
        exchange.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            exchange.bytes_out = len(body)
            self.wfile.write(body)
        self.wfile.flush()

    def _expired(self, exchange: Exchange) -> None:
        """401 with the challenge the upstream gives this very target without credentials."""
        challenge, body = "", b""
        for target in (self.path, "/v2/"):
            conn = self.proxy._connect()
            try:
                conn.request("GET", target)
                response = conn.getresponse()
                body = response.read()
                challenge = response.getheader("WWW-Authenticate") or ""
            finally:
                conn.close()
            if response.status == 401 and challenge:
                break
        if challenge and "error=" not in challenge:
            challenge += ',error="invalid_token"'
        self._answer(exchange, 401, body, {"Content-Type": "application/json",
                                           "WWW-Authenticate": challenge})

    def _forward(self, exchange: Exchange, fault: Fault | None) -> None:
        proxy = self.proxy
        upstream = proxy._connect()
        try:
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            upstream.putheader("Host", proxy._upstream_parts.netloc)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "host":
                    upstream.putheader(name, value)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
            try:
                upstream.endheaders()
                self._send_body(upstream, exchange, fault, chunked)
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException) as e:  # the upstream failed
                self._answer(exchange, 502, f"upstream failed: {e}".encode(),
                             {"Content-Type": "text/plain"})
                return
            self._relay(response, exchange, fault)
        finally:
            upstream.close()

    def _length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def _request_pieces(self) -> Iterator[bytes]:
        """The request body as it arrives, in pieces; ``_Abort`` if the client goes away."""
        try:
            yield from self._read_body()
        except (OSError, ValueError, EOFError) as e:
            raise _Abort() from e

    def _read_body(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise EOFError("client closed mid-body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, PIECE))
                    if not piece:
                        raise EOFError("client closed mid-body")
                    left -= len(piece)
                    yield piece
                self.rfile.readline(16)
        else:
            left = self._length()
            while left:
                piece = self.rfile.read1(min(left, PIECE))
                if not piece:
                    raise EOFError("client closed mid-body")
                left -= len(piece)
                yield piece

    def _drain(self) -> int:
        return sum(len(piece) for piece in self._request_pieces())

    def _send_body(self, upstream: http.client.HTTPConnection, exchange: Exchange,
                   fault: Fault | None, chunked: bool) -> None:
        pacer = _Pacer(fault.bytes_per_second if isinstance(fault, Throttle) and fault.upload
                       else None)
        limit = fault.after if isinstance(fault, DropUpload) else None
        for piece in self._request_pieces():
            if limit is not None and exchange.bytes_in + len(piece) >= limit:
                piece = piece[:limit - exchange.bytes_in]
                self._send_piece(upstream, piece, chunked)
                exchange.bytes_in += len(piece)
                raise _Abort()  # _exchange resets the client; upstream closes in _forward
            for part in pacer.paced(piece):
                self._send_piece(upstream, part, chunked)
                exchange.bytes_in += len(part)
        if chunked:
            upstream.send(b"0\r\n\r\n")

    @staticmethod
    def _send_piece(upstream: http.client.HTTPConnection, piece: bytes, chunked: bool) -> None:
        if not piece:
            return
        upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)

    def _relay(self, response: http.client.HTTPResponse, exchange: Exchange,
               fault: Fault | None) -> None:
        has_body = self.command != "HEAD" and response.status not in _BODYLESS_STATUS \
            and response.status >= 200
        length_header = response.getheader("Content-Length")
        length = int(length_header) if length_header is not None else None
        if isinstance(fault, Truncate) and length is not None:
            length = min(length, fault.after)
        exchange.status = response.status  # logged before the client can see it (above)
        self.send_response(response.status)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in _HOP_BY_HOP or lower in ("content-length", "date", "server"):
                continue
            if lower in ("location", "link"):
                value = self.proxy._rewrite(value)
            self.send_header(name, value)
        chunked_out = has_body and length is None
        if length is not None:
            self.send_header("Content-Length", str(length))
        elif chunked_out:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not has_body:
            self.wfile.flush()
            return
        pacer = _Pacer(fault.bytes_per_second if isinstance(fault, Throttle) and not fault.upload
                       else None)
        stop = fault.after if isinstance(fault, (Drop, Truncate)) else None
        flip = fault.offset if isinstance(fault, Corrupt) else None
        while True:
            piece = response.read1(PIECE)
            if not piece:
                break
            start = exchange.bytes_out
            if flip is not None and start <= flip < start + len(piece):
                at = flip - start
                piece = piece[:at] + bytes([piece[at] ^ 0xFF]) + piece[at + 1:]
            if stop is not None and start + len(piece) >= stop:
                piece = piece[:stop - start]
            for part in pacer.paced(piece):
                exchange.bytes_out += len(part)  # counted first, as the status is (above)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked_out else part)
            if stop is not None and exchange.bytes_out >= stop:
                break
        if isinstance(fault, Drop):
            self.wfile.flush()
            # A clean FIN after exactly `after` bytes (not a reset, which could discard bytes
            # the client has not read yet): the client reads them, then finds the body short.
            self.connection.shutdown(socket.SHUT_WR)
            self.close_connection = True
            return
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if isinstance(fault, Truncate):
            self.close_connection = True  # the rest of the upstream body is never read

    def _reset(self) -> None:
        """Abort the client connection with a reset, as a crashed peer or middlebox does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Pacer:
    """Splits pieces and sleeps so that at most ``rate`` bytes pass per second."""

    def __init__(self, rate: int | None):
        self.rate, self.sent, self.start = rate, 0, time.monotonic()

    def paced(self, piece: bytes) -> Iterator[bytes]:
        if not self.rate:
            yield piece
            return
        step = max(1, min(len(piece), self.rate // 20))  # about 20 writes a second
        for i in range(0, len(piece), step):
            part = piece[i:i + step]
            self.sent += len(part)
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)
            yield part

