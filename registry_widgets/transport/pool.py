"""The cheap path for small metadata requests: HTTP/1.1 on keep-alive sockets.

Part of ``transport``, used by ``session`` only; imports nothing of the package. A listing
sends one small request per tag (a manifest HEAD or GET, a config GET), so the client's CPU
per request is what limits it on a machine it shares with the registry. Measured on one
small manifest GET over keep-alive (``make bench``, scenario 4): requests costs about 0.9
ms of client CPU, urllib3 0.5 ms, http.client 0.3 ms (most of it parsing headers with the
``email`` package), and writing the request and reading the answer straight off the socket
0.08 ms; curl needs 0.1-0.2 ms. So this module speaks the small part of HTTP/1.1 that such
requests need: one request line and its headers out; a status line, headers and a body
(``Content-Length``, chunked, or to the end of the connection) back.

It only moves bytes. Everything that makes a request safe stays in ``Transport`` and is
shared with the requests path: which origin gets credentials, redirects (followed hop by
hop in ``Transport.send``, so a 3xx is returned here, never followed), auth challenges,
retries and ``Retry-After``, and ``error_for``. Failures are raised as the ``requests``
exceptions that ``Transport.request`` already retries and explains.
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import os
import re
import socket
import ssl
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import parse_header_links, requote_uri

log = logging.getLogger("registry_widgets.transport.pool")

# Limits as http.client has them: a registry that sends more is broken or hostile.
MAX_LINE = 65536
MAX_HEADERS = 100
_NO_BODY_STATUSES = frozenset({204, 304})


class Headers(dict):
    """Response headers, names lower-cased; ``get``, ``[]`` and ``in`` take any case. A
    name sent more than once has its values joined with ", ", as requests does."""

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class SentRequest:
    """What was sent, as ``response.request`` has it in requests: method, url, headers."""

    __slots__ = ("method", "url", "_headers")

    def __init__(self, method: str, url: str, headers: dict[str, str]):
        self.method, self.url, self._headers = method, url, headers

    @property
    def headers(self) -> CaseInsensitiveDict:
        return CaseInsensitiveDict(self._headers)


class Response:
    """The part of ``requests.Response`` the registry client and ``error_for`` read, for a
    response read to its end: ``status_code``, ``headers`` (case-insensitive), ``content``,
    ``text``, ``json()``, ``links``, ``url``, ``request``, ``ok``, ``close()``."""

    __slots__ = ("status_code", "reason", "headers", "content", "url", "request")

    def __init__(self, status: int, reason: str, headers: Headers, content: bytes,
                 url: str, request: SentRequest):
        self.status_code, self.reason, self.headers = status, reason, headers
        self.content, self.url, self.request = content, url, request

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        header = self.headers.get("Link")
        if not header:
            return {}
        return {link.get("rel") or link.get("url"): link for link in parse_header_links(header)}

    def close(self) -> None:
        """Nothing to do: the body was read whole and the connection is back in the pool."""

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class Stale(http.client.HTTPException):
    """The server closed the connection before answering: on a reused keep-alive
    connection that it closed while idle, the request is sent once more on a new one, as
    urllib3 and http.client do."""


_STALE = (Stale, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def ssl_context(verify: str | bool) -> ssl.SSLContext:
    """The TLS settings requests would use for ``verify``: a CA file or folder, the
    environment's ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, else certifi's bundle;
    ``False`` only where the user asked for no verification."""
    if verify is False:
        return ssl._create_unverified_context()  # noqa: S323 - insecure=True, asked for
    cafile = verify if isinstance(verify, str) else (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        or requests.certs.where())
    if os.path.isdir(cafile):
        return ssl.create_default_context(capath=cafile)
    return ssl.create_default_context(cafile=cafile)


class Connection:
    """One keep-alive connection: a socket (TLS-wrapped for https) and a buffered reader.
    ``sock`` is what ``transport.abort_requests`` shuts down to stop a blocked request."""

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None,
                 connect_timeout: float):
        sock = socket.create_connection(address, timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=address[0])
        except BaseException:
            sock.close()
            raise
        self.sock: socket.socket | None = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            self.reader.close()
            sock.close()

    def exchange(self, request: bytes, method: str, read_timeout: float
                 ) -> tuple[int, str, list[tuple[str, str]], bytes, bool]:
        """Send ``request``; (status, reason, headers, body, keep the connection open)."""
        assert self.sock is not None
        self.sock.settimeout(read_timeout)
        self.sock.sendall(request)
        while True:
            version, status, reason = self._status_line()
            headers = self._headers()
            if not 100 <= status < 200:
                break  # an interim 1xx answer is followed by the real one
        fields = {name.lower(): value for name, value in headers}
        keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
        if method == "HEAD" or status in _NO_BODY_STATUSES:
            body = b""
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            body = self._chunked()
        elif "content-length" in fields:
            try:
                length = int(fields["content-length"].split(",")[0])
            except ValueError:
                raise http.client.HTTPException("a Content-Length that is not a number") \
                    from None
            body = self.reader.read(length)
            if len(body) != length:
                raise http.client.IncompleteRead(body, length - len(body))
        else:
            body, keep = self.reader.read(), False  # the body ends with the connection
        return status, reason, headers, body, keep

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def _status_line(self) -> tuple[str, int, str]:
        line = self._line()
        if not line:
            raise Stale("the server closed the connection without an answer")
        version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(line[:80].decode("iso-8859-1"))
        return version, int(code), reason

    def _headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(headers) >= MAX_HEADERS:
                raise http.client.HTTPException(f"more than {MAX_HEADERS} headers")
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and headers:  # an obsolete folded continuation line
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon:
                raise http.client.HTTPException(f"a header line without a colon: {text[:40]!r}")
            headers.append((name.strip(), value.strip()))

    def _chunked(self) -> bytes:
        pieces = []
        while True:
            size_line = self._line()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise http.client.IncompleteRead(b"".join(pieces)) from None
            if size == 0:
                self._headers()  # trailers, if any, up to the blank line
                return b"".join(pieces)
            piece = self.reader.read(size)
            if len(piece) != size or self.reader.read(2) != b"\r\n":
                raise http.client.IncompleteRead(b"".join(pieces) + piece)
            pieces.append(piece)


class Pool:
    """Keep-alive connections to one origin (``scheme://host[:port]``), shared by all
    threads: an idle connection goes to whichever request comes next, so there are never
    more connections than requests in flight. ``note`` is told of each connection a request
    uses, so that a cancelled operation can cut it (``transport.abort_requests``), and
    ``stopped`` says whether that happened (a cut connection is not retried)."""

    def __init__(self, scheme: str, host: str, verify: str | bool, cookies: Any,
                 note: Callable[[Any], None], stopped: Callable[[], bool]):
        self.scheme, self.host = scheme, host
        parts = urlsplit(f"//{host}")
        self.address = (parts.hostname or host, parts.port or (443 if scheme == "https" else 80))
        self._cookies = cookies  # the registry session's jar: a Set-Cookie is kept there
        self._note, self._stopped = note, stopped
        self._idle: collections.deque[Connection] = collections.deque()
        self._context = ssl_context(verify) if scheme == "https" else None

    def request(self, method: str, url: str, headers: dict[str, str],
                timeout: tuple[float, float]) -> Response:
        """Send a bodiless request and read the whole answer (a redirect included)."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        data = _request_bytes(method, target, self.host, headers)
        for attempt in (0, 1):
            try:
                # The retry after a stale connection always opens a new one.
                connection, reused = (self._idle.popleft(), True) if attempt == 0 \
                    else (None, False)
            except IndexError:
                connection, reused = None, False
            try:
                if connection is None:
                    connection = Connection(self.address, self._context, timeout[0])
                self._note(connection)
                status, reason, raw, content, keep = connection.exchange(data, method, timeout[1])
            except _STALE as e:
                if connection is not None:
                    connection.close()
                if reused and attempt == 0 and not self._stopped():
                    # The other idle connections are as old: after a registry restart they
                    # are all dead, and each would cost a failed request. Drop them.
                    self.close()
                    continue  # (a connection cut by abort_requests reads as closed too)
                raise requests.ConnectionError(f"{type(e).__name__}: {e}") from e
            except socket.timeout as e:  # before OSError: it is one
                if connection is not None:
                    connection.close()
                raise requests.Timeout(f"{self.host} did not answer in time ({e})") from e
            except (ssl.SSLError, ssl.CertificateError) as e:
                if connection is not None:
                    connection.close()
                raise requests.exceptions.SSLError(str(e)) from e
            except (OSError, http.client.HTTPException) as e:
                if connection is not None:
                    connection.close()
                raise requests.ConnectionError(f"{type(e).__name__}: {e}") from e
            if keep:
                self._idle.append(connection)
            else:
                connection.close()
            if log.isEnabledFor(logging.DEBUG):  # the line urllib3 logs, without the query
                log.debug('%s://%s "%s %s HTTP/1.1" %s %s', self.scheme, self.host, method,
                          parts.path, status, len(content))
            fields = Headers()
            for name, value in raw:
                key = name.lower()
                fields[key] = f"{dict.__getitem__(fields, key)}, {value}" if key in fields \
                    else value
            if "set-cookie" in fields:
                self._keep_cookies(method, url, headers, raw)
            return Response(status, reason, fields, content, url,
                            SentRequest(method, url, headers))
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _keep_cookies(self, method: str, url: str, headers: dict[str, str],
                      raw: list[tuple[str, str]]) -> None:
        """The registry's cookies go back to it (a load balancer's session, say): kept in
        the session's jar, as requests would, and the transport sends the requests that
        need them through requests."""
        message = http.client.HTTPMessage()
        for name, value in raw:
            message[name] = value  # appends: every Set-Cookie is kept
        extract_cookies_to_jar(self._cookies, requests.Request(method, url,
                                                               headers=headers).prepare(),
                               _Original(message))

    def close(self) -> None:
        while self._idle:
            self._idle.popleft().close()


def _request_bytes(method: str, target: str, host: str, headers: dict[str, str]) -> bytes:
    """The request line and headers. Refuses what would change the request's meaning on
    the wire (a line break in a header, a space or control character in the path), as
    http.client does, with the exception requests raises for it."""
    if not target.isascii() or " " in target:
        target = requote_uri(target)
    if _BAD_TARGET.search(target):
        raise requests.exceptions.InvalidURL("a path with a control character cannot be sent")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if _BAD_HEADER.search(name) or _BAD_HEADER.search(value):
            raise requests.exceptions.InvalidHeader(
                f"the header {name[:40]!r} holds a line break and cannot be sent")
        lines.append(f"{name}: {value}")
    lines += ("", "")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise requests.exceptions.InvalidHeader(
            "a header with characters HTTP cannot carry cannot be sent") from None


_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_BAD_HEADER = re.compile(r"[\r\n\x00]")


class _Original:
    """What ``extract_cookies_to_jar`` reads of a requests response: the http.client one."""

    def __init__(self, message: http.client.HTTPMessage):
        self._original_response = self
        self.msg = message
