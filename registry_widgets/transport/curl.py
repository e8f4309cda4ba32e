"""The cheap path for small metadata requests: GETs and HEADs on libcurl, no driver thread.

Part of ``transport``, used by ``session`` only; imports ``errors`` (``Cancelled``) and nothing
else of the package. A listing sends one small request per tag (a manifest HEAD or GET, a
config GET), so the client's CPU per request is what limits it on a machine it shares with
the registry (REGISTRY-NOTES.md, "What a small request costs the client": requests 2.0 ms,
pycurl's multi interface 0.12 ms). libcurl does all of HTTP here: framing (lengths, chunks,
interim 1xx answers), keep-alive, HTTP/2 over TLS where the registry offers it (many
requests multiplexed on one connection: REGISTRY-NOTES.md, "HTTP/2 and latency"), proxies,
TLS. Nothing in this package reads HTTP off a socket itself. Of what libcurl hands back,
this module only splits the final answer's header lines at their colon.

Threads (leader/follower): ``Client.request`` runs in the caller's thread (a pool worker). It
fills a libcurl easy handle, adds it to the multi handle and starts it (under the engine's
lock). If no thread drives the multi handle then, the worker does, itself: it waits on
libcurl's sockets (an epoll fed by libcurl's socket callback, plus a wake-up socket) without
holding that lock, drives libcurl's timers and the read deadlines, and releases the lock of
each other job libcurl reports done, until its own is done; then it hands the lead to the
worker of another running job (releasing that job's lock) and returns. Every other worker
waits on its ``_Job``'s lock. So a request made alone costs no thread switch, and a listing
one per request that another worker completes; there is no driver thread. A worker that is
interrupted or gives up takes its job out and passes the lead on. The multi handle is
closed (with its connections) by the first request after ``IDLE`` seconds without work.

Bounds: a body over ``MAX_BODY`` (distribution's manifest limit) ends the transfer
(``CURLOPT_MAXFILESIZE_LARGE``, also mid-body when no length was announced); libcurl bounds
header sizes; ``CURLOPT_TIMEOUT_MS`` bounds the whole request (connect + read), and the
leader fails a request whose answer is not complete ``read`` seconds after it was sent, as
the requests path's read timeout would, so a 1xx storm or a slow drip ends.

Everything that makes a request safe stays in ``Transport``, shared with the requests path:
which origin gets credentials, redirects (``FOLLOWLOCATION`` is off: a 3xx is returned and
``Transport.send`` follows it hop by hop), auth challenges, retries, ``Retry-After`` and
``error_for``. Failures are raised as the ``requests`` exceptions ``Transport.request``
already retries and explains, plus ``BodyTooLarge`` and ``Malformed`` (a ProtocolError
there). A request of a cancelled worker (``cancel.abort_requests``) is removed from the
multi handle at once and fails with ``Cancelled``.
"""

from __future__ import annotations

import _thread
import errno
import functools
import heapq
import io
import itertools
import json
import logging
import os
import re
import select
import socket
import threading
import time
import weakref
from http.client import HTTPMessage
from typing import Any, Callable
from urllib.parse import urlsplit

import pycurl
import requests
from requests.cookies import extract_cookies_to_jar, get_cookie_header
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, parse_header_links, requote_uri, select_proxy

from ..errors import Cancelled

log = logging.getLogger("registry_widgets.transport.curl")

# distribution refuses manifests over 4 MiB (its `maxManifestBodySize`); a tag list page or
# an image config is far smaller. Anything larger is a broken or hostile server.
MAX_BODY = 4 << 20
IDLE = 30.0  # seconds without a request after which the next one starts on new connections
GRACE = 5.0  # how long a waiting worker allows the leader beyond the request's own deadline
# libcurl resolves names itself, not through Python's socket.getaddrinfo: a name stand-in
# ("host:port:address", as curl --resolve takes) goes here. Empty unless a test sets it.
RESOLVE: list[str] = []
_VERSIONS = {pycurl.CURL_HTTP_VERSION_1_0: "HTTP/1.0", pycurl.CURL_HTTP_VERSION_1_1: "HTTP/1.1",
             pycurl.CURL_HTTP_VERSION_2_0: "HTTP/2", pycurl.CURL_HTTP_VERSION_3: "HTTP/3"}
_HTTP1 = (pycurl.CURL_HTTP_VERSION_1_0, pycurl.CURL_HTTP_VERSION_1_1)
_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY")
_PROXY_ENV_BYTES = tuple(os.fsencode(name) for name in _PROXY_ENV)
_BAD_URL = re.compile(r"[\x00-\x20\x7f]")
_BAD_HEADER = re.compile(r"[\r\n\x00]")
# libcurl's codes for an answer that is not valid HTTP (conflicting or bad Content-Length,
# an unknown Transfer-Encoding, headers past its limits): the same on every attempt.
_MALFORMED = {8, pycurl.E_BAD_CONTENT_ENCODING, 100}  # 8: WEIRD_SERVER_REPLY, 100: TOO_LARGE
_TLS = {35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98}


class BodyTooLarge(requests.RequestException):
    """An answer with a body over ``MAX_BODY``: not read (Transport makes it a ProtocolError)."""


class Malformed(requests.RequestException):
    """An answer that is not valid HTTP (Transport makes it a ProtocolError)."""


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

    __slots__ = ("status_code", "reason", "headers", "content", "url", "request", "version")

    def __init__(self, status: int, reason: str, headers: Headers, content: bytes,
                 url: str, request: SentRequest, version: str = "HTTP/1.1"):
        self.status_code, self.reason, self.headers = status, reason, headers
        self.content, self.url, self.request, self.version = content, url, request, version

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
        """Nothing to do: the body was read whole and libcurl keeps the connection."""

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class _Job:
    """One request between a worker and whichever worker leads. ``cut`` is what
    ``abort_requests`` calls (``cancel`` notes the job as the worker's connection)."""

    __slots__ = ("client", "easy", "lines", "body", "read", "lock", "finished", "code",
                 "message", "error", "started", "poisoned", "engine", "woken")

    def __init__(self, client: "Client", easy: pycurl.Curl, read: float):
        self.client, self.easy, self.read = client, easy, read
        # The handle's own list and buffer, which its callbacks fill (set once, in
        # _new_easy): emptied here, as a handle runs one job at a time.
        self.lines: list[bytes] = easy.lines
        self.lines.clear()
        self.body = easy.body
        if self.body.tell():
            self.body.seek(0)
            self.body.truncate()
        self.lock = _thread.allocate_lock()
        self.lock.acquire()  # released once: the job is finished, or its worker now leads
        self.finished = self.poisoned = self.woken = False
        self.code, self.message = 0, ""
        self.error: BaseException | None = None
        self.started = 0.0
        self.engine: _Engine | None = None
        easy.job = self

    def prereq(self, ip: str, local_ip: str, port: int, local_port: int) -> int:
        """Called by libcurl (engine lock held) just before the request goes out. On a
        reused HTTP/1.x connection, bytes already waiting are bytes nobody asked for (a
        server or proxy that sent more than it announced): sent now, the request would be
        answered by them. libcurl checks for that only on connections idle over a second,
        so the connection is refused here, and the request goes again on a new one."""
        fd = self.client._idle.pop((ip, port, local_port), None)
        if fd is None:
            return pycurl.PREREQFUNC_OK
        poll = select.poll()
        try:
            poll.register(fd, select.POLLIN)
            waiting = poll.poll(0)
        except (OSError, ValueError):
            return pycurl.PREREQFUNC_OK
        if waiting:
            self.poisoned = True
            return pycurl.PREREQFUNC_ABORT  # libcurl then closes that connection
        return pycurl.PREREQFUNC_OK

    def cut(self) -> None:
        self.client._cut(self)


class _Engine:
    """The multi handle and what drives it: an epoll over libcurl's sockets (libcurl says
    which through its socket callback) and the wake-up socket, libcurl's next timer, the
    running jobs and their read deadlines, and which job's worker leads. All of it is used
    under ``lock``, which the leader holds except while it sleeps in epoll."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # every use of the multi handle and of what follows
        self.closed = False
        self.shut = False  # close() done
        # The job whose worker drives the multi handle now (or was just handed that duty),
        # None when no transfer is running; set and changed under ``lock`` only.
        self.leader: _Job | None = None
        self.idle_since = time.monotonic()
        self.running: set[_Job] = set()
        self.deadlines: list[tuple[float, int, _Job]] = []  # read deadlines, a heap
        self.order = itertools.count()
        self.wake_at = -1.0  # when the sleeping leader looks next; -1: it is awake
        self.multi = pycurl.CurlMulti()
        self.poller = select.epoll()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.wake_fd = self.wake_r.fileno()
        self.poller.register(self.wake_fd, select.EPOLLIN)
        self.fds: dict[int, int] = {}  # libcurl's sockets -> the events registered
        self.timer_at: float | None = None
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self.multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)

    def _on_timer(self, ms: int) -> None:
        # 0 ("now", as after adding a transfer) must be due at the leader's next look, not
        # a millisecond of epoll later.
        self.timer_at = None if ms < 0 else 0.0 if ms == 0 else time.monotonic() + ms / 1000

    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        poller, fds = self.poller, self.fds
        if what == pycurl.POLL_REMOVE:
            if fds.pop(fd, None) is not None:
                try:
                    poller.unregister(fd)
                except OSError:  # already closed: epoll forgot it by itself
                    pass
            return
        events = (select.EPOLLIN if what & pycurl.POLL_IN else 0) | \
            (select.EPOLLOUT if what & pycurl.POLL_OUT else 0)
        old = fds.get(fd)
        if old == events:
            return
        try:
            if old is None:
                poller.register(fd, events)
            else:
                poller.modify(fd, events)
        except FileExistsError:
            poller.modify(fd, events)
        except FileNotFoundError:  # closed and reused since: epoll forgot the old one
            poller.register(fd, events)
        fds[fd] = events

    def wake(self) -> None:
        try:
            self.wake_w.send(b"\0")
        except OSError:
            pass  # full (wake-ups pending anyway) or closed (the engine was closed)

    def close(self) -> None:
        if self.shut:
            return
        self.shut = True
        self.multi.close()
        self.poller.close()
        self.wake_r.close()
        self.wake_w.close()


_inherited: list[Any] = []  # engines a forked child must neither use nor close


class Client:
    """Small bodiless requests to one origin, on one libcurl multi handle driven by the
    waiting workers in turn. ``verify`` is the transport's (a CA file or folder, True, or
    False); ``cookies`` the registry session's jar (kept and sent as requests would);
    ``note`` and ``stopped`` come from ``cancel``; ``trust_env`` says whether the
    environment's proxies apply."""

    def __init__(self, verify: str | bool, cookies: Any, note: Callable[[Any], None],
                 stopped: Callable[[], bool], trust_env: Callable[[], bool]):
        self._cookies, self._note, self._stopped, self._trust_env = \
            cookies, note, stopped, trust_env
        if verify is False:
            self._ca: tuple[int, str] | None = None
        else:
            ca = verify if isinstance(verify, str) else (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                or requests.certs.where())  # what requests would verify with
            self._ca = (pycurl.CAPATH if os.path.isdir(ca) else pycurl.CAINFO, ca)
        self._lock = threading.Lock()  # guards _engine and _closing
        self._engine: _Engine | None = None
        self._closing = False
        self._free: list[pycurl.Curl] = []
        self._lines: dict[tuple, list[bytes]] = {}  # headers -> their lines, checked
        self._proxies: dict[tuple, str] = {}
        # Idle HTTP/1.x connections, (address, port, local port) -> socket: what _Job.prereq
        # checks before one is reused. Used under the engine's lock only.
        self._idle: dict[tuple[str, int, int], int] = {}
        self._pid = os.getpid()
        self.connections = 0  # connections opened so far (libcurl's NUM_CONNECTS, summed)
        # Whether the last answer came over HTTP/2: one connection then carries many
        # requests at once, so a caller may keep more of them in flight (see ``Transport``).
        self.multiplexed = False

    # -- the worker's side -------------------------------------------------------------------

    def request(self, method: str, url: str, headers: dict[str, str],
                timeout: tuple[float, float]) -> Response:
        """Send a bodiless request and read the whole answer (a redirect included)."""
        if self._pid != os.getpid():
            self._forked()
        if not url.isascii() or " " in url:
            url = requote_uri(url)
        if _BAD_URL.search(url):
            raise requests.exceptions.InvalidURL("a URL with a control character cannot be sent")
        sent = dict(headers)
        if self._cookies:
            cookie = get_cookie_header(self._cookies, requests.Request(method, url, sent))
            if cookie:
                sent["Cookie"] = cookie
        key = tuple(sent.items())
        encoded = self._lines.get(key)
        if encoded is None:  # checked and encoded once per set of headers
            encoded = _header_lines(sent)
            if len(self._lines) > 256:
                self._lines.clear()
            self._lines[key] = encoded
        if method not in ("GET", "HEAD"):
            raise ValueError(f"the small-request path sends GET and HEAD, not {method}")
        connect, read = timeout
        try:
            easy = self._free.pop()
        except IndexError:
            easy = self._new_easy()
        # A handle is reused as it was left (no reset): only what differs is set again,
        # each setopt being a measurable part of a small request's CPU.
        setopt = easy.setopt
        setopt(pycurl.URL, url)
        setopt(pycurl.HTTPHEADER, encoded)
        if easy.sent != method:
            setopt(pycurl.NOBODY, 1) if method == "HEAD" else setopt(pycurl.HTTPGET, 1)
            easy.sent = method
        # A blob's HEAD announces the blob's size (gigabytes, no body follows): libcurl checks
        # MAXFILESIZE against that announcement too, so the metadata bound is not applied.
        bound = 0 if method == "HEAD" and "/blobs/" in url else MAX_BODY
        if easy.bound != bound:
            setopt(pycurl.MAXFILESIZE_LARGE, bound)
            easy.bound = bound
        if easy.timeouts != timeout:
            setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(connect * 1000)))
            setopt(pycurl.TIMEOUT_MS, max(1, int((connect + read) * 1000)))
            easy.timeouts = timeout
        proxy = self._proxy(url)
        if easy.proxy != proxy:
            setopt(pycurl.PROXY, proxy)
            easy.proxy = proxy
        if easy.resolve != RESOLVE:
            setopt(pycurl.RESOLVE, list(RESOLVE))
            easy.resolve = list(RESOLVE)
        if easy.fresh:
            setopt(pycurl.FRESH_CONNECT, 0)
            easy.fresh = False
        for fresh in (False, True):
            job = _Job(self, easy, read)
            self._note(job)  # before the stopped check: abort_requests marks, then cuts
            if self._stopped():
                self._free.append(easy)
                raise Cancelled(f"the request to {_origin(url)} was cancelled")
            self._submit(job)
            self._wait(job, connect + read + GRACE, url)
            if job.error is not None:
                self._free.append(easy)
                raise job.error
            if not (job.poisoned and job.code == pycurl.E_ABORTED_BY_CALLBACK) or fresh:
                break
            log.warning("%s sent bytes nobody asked for on an idle connection; that connection "
                        "was dropped and the request sent on a new one", _origin(url))
            setopt(pycurl.FRESH_CONNECT, 1)
            easy.fresh = True
        try:
            self.connections += easy.getinfo(pycurl.NUM_CONNECTS)
            if job.code:
                raise _failure(job.code, job.message, easy, url)
            status = easy.getinfo(pycurl.RESPONSE_CODE)
            number = easy.getinfo(pycurl.INFO_HTTP_VERSION)
            version = _VERSIONS.get(number, "HTTP/1.1")
            self.multiplexed = number == pycurl.CURL_HTTP_VERSION_2_0
        finally:
            easy.job = None
            self._free.append(easy)
        reason, raw = _final_headers(job.lines)
        content = job.body.getvalue()
        if log.isEnabledFor(logging.DEBUG):  # the line urllib3 logs, without the query
            log.debug('%s "%s %s %s" %s %s', _origin(url), method, urlsplit(url).path,
                      version, status, len(content))
        fields = Headers()
        known = fields.keys()
        setitem = dict.__setitem__
        for name, value in raw:
            key = name.lower()
            setitem(fields, key, f"{dict.__getitem__(fields, key)}, {value}" if key in known
                    else value)
        if "set-cookie" in known:
            _keep_cookies(self._cookies, method, url, sent, raw)
        return Response(status, reason, fields, content, url, SentRequest(method, url, sent),
                        version)

    def _new_easy(self) -> pycurl.Curl:
        """A libcurl handle with what every small request shares."""
        easy = pycurl.Curl()
        setopt = easy.setopt
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)
        setopt(pycurl.PIPEWAIT, 1)  # wait for a connection that may multiplex, not a new one
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.HEADEROPT, pycurl.HEADER_SEPARATE)  # no Authorization in a CONNECT
        setopt(pycurl.MAXFILESIZE_LARGE, MAX_BODY)
        # FOLLOWLOCATION stays 0 (libcurl's default): Transport.send follows redirects.
        if self._ca is None:
            setopt(pycurl.SSL_VERIFYPEER, 0)
            setopt(pycurl.SSL_VERIFYHOST, 0)
        else:
            setopt(*self._ca)
        easy.sent = easy.timeouts = easy.proxy = None
        easy.bound = MAX_BODY  # set above; a blob HEAD lifts it (see request)
        easy.resolve, easy.fresh, easy.job = [], False, None
        easy.lines, easy.body = [], io.BytesIO()
        setopt(pycurl.HEADERFUNCTION, easy.lines.append)
        setopt(pycurl.WRITEFUNCTION, easy.body.write)
        setopt(pycurl.PREREQFUNCTION, functools.partial(_prereq, weakref.ref(easy)))
        return easy

    def _proxy(self, url: str) -> str:
        """The proxy requests would use for ``url``, read from the environment now (a
        variable set after the first request applies); "" for none (libcurl then ignores
        its own reading of the environment, which differs from requests')."""
        if not self._trust_env():
            return ""
        # os.environ's own mapping, read without its per-key encoding: this runs per request.
        environ = getattr(os.environ, "_data", None)
        values = tuple(map(environ.get, _PROXY_ENV_BYTES)) if isinstance(environ, dict) \
            else tuple(map(os.environ.get, _PROXY_ENV))
        key = (url[:url.find("/", 8)], values)
        proxy = self._proxies.get(key)
        if proxy is None:
            proxy = select_proxy(url, get_environ_proxies(url)) or ""
            if len(self._proxies) > 64:
                self._proxies.clear()
            self._proxies[key] = proxy
        return proxy

    def _submit(self, job: _Job) -> None:
        """Add ``job`` to the multi handle and start it, in the calling worker's thread. If
        no worker drives the multi handle now, this one will (``_wait``); otherwise the
        leader is woken only when libcurl now wants a timer sooner than it planned to look."""
        while True:
            with self._lock:
                if self._closing:
                    raise requests.ConnectionError("the transport was closed")
                engine = self._engine
                if engine is None or engine.closed:
                    engine = self._engine = _Engine()
            with engine.lock:
                if engine.closed:
                    continue
                now = time.monotonic()
                if engine.leader is None and now - engine.idle_since >= IDLE:
                    # Unused for IDLE seconds: close its connections, start afresh.
                    self._retire(engine)
                    continue
                job.engine, job.started = engine, now
                engine.multi.add_handle(job.easy)
                engine.running.add(job)
                due = now + job.read
                heapq.heappush(engine.deadlines, (due, next(engine.order), job))
                if engine.timer_at == 0.0:  # "now": the request goes out from here
                    engine.timer_at = None
                    engine.multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
                    self._collect(engine)
                if engine.leader is None:
                    engine.leader = job  # nobody drives: this worker will, in _wait
                    return
                wake = min(engine.timer_at if engine.timer_at is not None else due,
                           due) < engine.wake_at
            if wake:
                engine.wake()
            return

    def _wait(self, job: _Job, limit: float, url: str) -> None:
        """Wait for ``job``'s answer: as a follower on its lock, or as the leader driving
        the multi handle until the job is done (then the lead goes to another waiting
        worker). A follower's lock is released when its job is finished or when it is
        handed the lead."""
        engine = job.engine
        assert engine is not None
        try:
            if engine.leader is not job and not job.lock.acquire(timeout=limit):
                # The leader missed the job's deadline (it should not): give up on it.
                self._abandon(job, requests.Timeout(f"{_origin(url)} did not answer in time"))
            elif engine.leader is job:
                self._lead(engine, job)
        except BaseException:  # an interrupt: the job leaves, the lead goes on
            self._abandon(job, Cancelled("the request was interrupted"))
            raise
        if not job.finished:  # defensive: a job leaves its wait finished
            self._abandon(job, requests.ConnectionError("the request was lost by the HTTP engine"))

    def _abandon(self, job: _Job, error: BaseException) -> None:
        """Take ``job`` out of the multi handle and fail it; pass on its lead if it had it."""
        engine = job.engine
        assert engine is not None
        with engine.lock:
            if job in engine.running:
                engine.running.discard(job)
                if not engine.shut:
                    engine.multi.remove_handle(job.easy)
            _finish(job, error)
            if engine.leader is job:
                self._handoff(engine)

    def _handoff(self, engine: _Engine) -> None:
        """The leader is done (engine lock held): the lead goes to the worker of another
        running job, woken through its job's lock; with none running, nobody leads."""
        engine.leader = None
        if engine.closed:
            self._retire(engine)
            return
        for job in engine.running:
            engine.leader = job
            if not job.woken:
                job.woken = True
                job.lock.release()
            return
        engine.idle_since = time.monotonic()

    def _retire(self, engine: _Engine) -> None:
        """Fail what is still running and close the engine (its lock held, no leader)."""
        engine.closed = True
        error = requests.ConnectionError("the transport was closed")
        for job in list(engine.running):
            try:
                engine.multi.remove_handle(job.easy)
            except pycurl.error:
                pass
            _finish(job, error)
        engine.running.clear()
        self._idle.clear()  # their connections close with the engine
        try:
            engine.close()
        except pycurl.error:
            pass

    def _cut(self, job: _Job) -> None:
        engine = job.engine
        if engine is None:
            return  # not submitted yet: request() checks the stop before it submits
        with engine.lock:
            if job in engine.running:
                engine.running.discard(job)
                engine.multi.remove_handle(job.easy)
                _finish(job, Cancelled("the request was cancelled"))
                lead = engine.leader is job
            else:
                return
        if lead:  # its worker may be asleep in epoll: it must see the cut now
            engine.wake()

    def _forked(self) -> None:
        """In a forked child: the parent's threads are not here, and its sockets are the
        parent's. Start afresh, leaving the inherited handles untouched."""
        _inherited.append((self._engine, self._free))
        self._lock = threading.Lock()
        self._engine, self._free, self._closing = None, [], False
        self._idle = {}
        self._pid = os.getpid()

    def close(self) -> None:
        """Fail what is in flight and close the connections (at once if no worker drives
        the multi handle, else by the leader as its wait ends)."""
        with self._lock:
            self._closing = True
            engine = self._engine
        if engine is None:
            return
        with engine.lock:
            if engine.leader is None:
                self._retire(engine)
                return
            engine.closed = True
            error = requests.ConnectionError("the transport was closed")
            for job in list(engine.running):
                engine.running.discard(job)
                engine.multi.remove_handle(job.easy)
                _finish(job, error)
        engine.wake()

    # -- the leader's side -------------------------------------------------------------------

    def _lead(self, engine: _Engine, mine: _Job) -> None:
        """Drive the multi handle until ``mine`` is finished, then hand the lead on."""
        lock = engine.lock
        lock.acquire()
        try:
            while not mine.finished and not engine.closed:
                self._step(engine)
        finally:
            try:
                if not mine.finished:  # closed under it, or interrupted
                    if mine in engine.running:
                        engine.running.discard(mine)
                        if not engine.shut:
                            engine.multi.remove_handle(mine.easy)
                    _finish(mine, requests.ConnectionError("the transport was closed"))
                if engine.leader is mine:
                    self._handoff(engine)
            finally:
                lock.release()

    def _step(self, engine: _Engine) -> None:
        """One look at libcurl's timers, the read deadlines and its sockets (engine lock
        held, released while waiting in epoll)."""
        multi, running, deadlines, lock = engine.multi, engine.running, engine.deadlines, \
            engine.lock
        now = time.monotonic()
        if engine.timer_at is not None and now >= engine.timer_at:
            engine.timer_at = None
            multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
            self._collect(engine)
        while deadlines and deadlines[0][0] <= now:
            _, _, job = heapq.heappop(deadlines)
            if job not in running:
                continue
            # The read timeout counts from when the request went out (libcurl's
            # PRETRANSFER time), as the requests path's does; connecting has its own.
            sent = job.easy.getinfo(pycurl.PRETRANSFER_TIME)
            due = job.started + sent + job.read if sent else now + job.read
            if sent and due <= now:
                running.discard(job)
                multi.remove_handle(job.easy)
                _finish(job, requests.Timeout("the answer did not arrive in time"))
            else:
                heapq.heappush(deadlines, (due, next(engine.order), job))
        if not running:
            deadlines.clear()
            return
        wait = 1.0
        if engine.timer_at is not None:
            wait = min(wait, engine.timer_at - now)
        if deadlines:
            wait = min(wait, deadlines[0][0] - now)
        wait = max(0.0, wait)
        engine.wake_at = now + wait
        lock.release()
        try:
            events = engine.poller.poll(wait)
        finally:
            _relock(lock)
            engine.wake_at = -1.0  # awake: a worker's add needs no wake-up
        if engine.shut:
            return
        wake_fd = engine.wake_fd
        for fd, mask in events:
            if fd == wake_fd:
                try:
                    engine.wake_r.recv(4096)
                except OSError:
                    pass
                continue
            multi.socket_action(fd, (pycurl.CSELECT_IN if mask & select.EPOLLIN else 0) |
                                (pycurl.CSELECT_OUT if mask & select.EPOLLOUT else 0) |
                                (pycurl.CSELECT_ERR if mask & select.EPOLLERR else 0))
        if events:
            self._collect(engine)

    def _collect(self, engine: _Engine) -> None:
        """Hand every transfer libcurl has finished back to its worker (engine lock held)."""
        while True:
            queued, done, failed = engine.multi.info_read()
            for easy in done:
                self._done(easy, 0, "", engine)
            for easy, code, message in failed:
                self._done(easy, code, message, engine)
            if not queued:
                return

    def _done(self, easy: pycurl.Curl, code: int, message: str, engine: _Engine) -> None:
        job, multi = easy.job, engine.multi
        if job is None or job not in engine.running:
            multi.remove_handle(easy)
            return
        if code == 0 and easy.getinfo(pycurl.INFO_HTTP_VERSION) in _HTTP1:
            fd = easy.getinfo(pycurl.ACTIVESOCKET)  # before removal: then it is forgotten
            if fd != -1:  # kept open for the next request
                if len(self._idle) > 1024:  # entries of connections closed since
                    self._idle.clear()
                self._idle[(easy.getinfo(pycurl.PRIMARY_IP), easy.getinfo(pycurl.PRIMARY_PORT),
                            easy.getinfo(pycurl.LOCAL_PORT))] = fd
        multi.remove_handle(easy)
        engine.running.discard(job)
        job.code, job.message = code, message
        _finish(job, None)

def _prereq(easy: Any, ip: str, local_ip: str, port: int, local_port: int) -> int:
    job = easy().job  # the handle's job now (libcurl calls this while the job runs)
    return job.prereq(ip, local_ip, port, local_port) if job is not None \
        else pycurl.PREREQFUNC_OK


def _relock(lock: Any) -> None:
    """Take ``lock`` back even if a signal handler raises meanwhile (the main thread can
    lead): the exception is raised once the lock is held, never with it lost."""
    error: BaseException | None = None
    while True:
        try:
            lock.acquire()
            break
        except BaseException as e:  # KeyboardInterrupt from a handler
            error = e
    if error is not None:
        raise error


def _finish(job: _Job, error: BaseException | None) -> None:
    if job.finished:
        return
    job.finished = True
    job.error = error
    if not job.woken:
        job.woken = True
        job.lock.release()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _header_lines(sent: dict[str, str]) -> list[bytes]:
    """``sent`` as libcurl's header lines; refused if a line break or a character HTTP
    cannot carry would be sent."""
    lines = []
    for name, value in sent.items():
        if _BAD_HEADER.search(name) or _BAD_HEADER.search(value):
            raise requests.exceptions.InvalidHeader(
                f"the header {name[:40]!r} holds a line break and cannot be sent")
        # "Name:" alone would tell libcurl to drop the header; "Name;" sends it empty.
        lines.append(f"{name}: {value}" if value else f"{name};")
    try:
        return [line.encode("latin-1") for line in lines]
    except UnicodeEncodeError:
        raise requests.exceptions.InvalidHeader(
            "a header with characters HTTP cannot carry cannot be sent") from None


def _final_headers(lines: list[bytes]) -> tuple[str, list[tuple[str, str]]]:
    """(reason, [(name, value)]) of the last answer libcurl handed over: it passes every
    header line of every answer (interim 1xx, a proxy's CONNECT reply), each answer
    starting with its status line, already unfolded."""
    start = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i][:5] == b"HTTP/":
            start = i
            break
    if not lines:
        return "", []
    status = lines[start].decode("latin-1").rstrip("\r\n")
    reason = status.split(" ", 2)[2] if status.count(" ") >= 2 else ""
    raw: list[tuple[str, str]] = []
    for line in lines[start + 1:]:
        name, colon, value = line.decode("latin-1").partition(":")
        if colon and name:
            raw.append((name.strip(), value.strip()))
    return reason.strip(), raw


def _keep_cookies(jar: Any, method: str, url: str, headers: dict[str, str],
                  raw: list[tuple[str, str]]) -> None:
    """The registry's cookies go back to it (a load balancer's session, say): kept in the
    session's jar, which both paths send from, as requests would."""
    message = HTTPMessage()
    for name, value in raw:
        message[name] = value  # appends: every Set-Cookie is kept
    extract_cookies_to_jar(jar, requests.Request(method, url, headers), _Original(message))


class _Original:
    """What ``extract_cookies_to_jar`` reads of a requests response: its headers."""

    def __init__(self, message: HTTPMessage):
        self._original_response = self
        self.msg = message


def _failure(code: int, message: str, easy: pycurl.Curl, url: str) -> Exception:
    """libcurl's error as the requests exception ``Transport`` retries and explains."""
    where = _origin(url)
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return requests.Timeout(f"{where} did not answer in time ({message})")
    if code == pycurl.E_FILESIZE_EXCEEDED:
        return BodyTooLarge(f"a body larger than {MAX_BODY} bytes")
    if code in _MALFORMED or (code == pycurl.E_RECV_ERROR and "chunk" in message):
        return Malformed(message)
    if code == pycurl.E_URL_MALFORMAT:
        return requests.exceptions.InvalidURL("a URL libcurl cannot send")
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return requests.ConnectionError(f"Name or service not known: {message}")
    if code == pycurl.E_COULDNT_CONNECT:
        refused = easy.getinfo(pycurl.OS_ERRNO) == errno.ECONNREFUSED
        return requests.ConnectionError(("Connection refused: " if refused else "") + message)
    if code in _TLS:
        text = message
        if code == 60:  # PEER_FAILED_VERIFICATION
            text = ("certificate verify failed: hostname mismatch, " if "name" in message
                    else "certificate verify failed: ") + message
        return requests.exceptions.SSLError(text)
    return requests.ConnectionError(f"{message} (curl error {code})")
