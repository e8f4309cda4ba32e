"""HTTP to one registry: the session, TLS, retries, auth, and status-to-exception.

Layer 2, the only module (with ``auth``) that sends HTTP. ``registry`` builds on it.
One ``requests.Session`` per registry with a connection pool sized for concurrent blob
copies. The single place where an HTTP failure becomes an exception is ``error_for``.

Small metadata requests (tag lists, manifest HEADs and GETs, configs: a bodiless GET or
HEAD, not streamed) take a cheaper path: ``http.client`` over a pool of keep-alive
connections (``_FastPool``). Measured on one small manifest GET over keep-alive, requests
costs about 2 ms of client CPU, this path a few tenths of a millisecond, and a listing is
one such request per tag. Everything above ``_raw`` (auth, retries, Retry-After, the
status-to-exception mapping) is the same for both paths; a redirect, a proxy from the
environment or anything unusual goes through requests.
"""

from __future__ import annotations

import collections
import email.utils
import http.client
import ipaddress
import json
import logging
import os
import random
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, parse_header_links

from .auth import Authenticator, merge_scopes, parse_challenge
from .credentials import Credentials
from .errors import (LOGIN_HINT, DeleteDisabled, Denied, DigestMismatch, InsecureRegistry,
                     NotFound, ProtocolError, RateLimited, RegistryError, Unauthorized,
                     Unreachable)

log = logging.getLogger("registry_widgets.transport")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# 500 is retried for reads only. distribution's own 500s are mostly persistent (a failing
# storage driver), but proxies and load balancers in front of registries answer 500 for
# passing trouble too, and a read has no side effect, so a few retries cost little either
# way (crane retries 5xx). A write answered 500 may have taken effect (a DELETE replayed
# would then report 404), so it is reported, not replayed.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_READ_STATUSES = RETRY_STATUSES | {500}
# A connection lost before or while the response arrived. ChunkedEncodingError is how
# requests reports a body cut short (urllib3 IncompleteRead) when it reads the body itself.
_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout,
                      requests.exceptions.ChunkedEncodingError)
MAX_RETRY_AFTER = 60.0
DOCKER_HUB_API = "registry-1.docker.io"
USER_AGENT = "registry-widgets/0.1"


def hostname(host: str) -> str:
    """The host without its port: ``[::1]:5000`` -> ``::1``, ``a.b:443`` -> ``a.b``."""
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.split(":")[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (a port is ignored)."""
    name = hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def insecure_hosts_from_env() -> set[str]:
    """Hosts the user allows over plain HTTP: ``REGISTRY_WIDGETS_INSECURE=a:5000,b``."""
    value = os.environ.get("REGISTRY_WIDGETS_INSECURE", "")
    return {h.strip() for h in value.split(",") if h.strip()}


def docker_ca_bundle(host: str) -> str | None:
    """Docker's per-registry CA convention: ``/etc/docker/certs.d/<host>/ca.crt``."""
    for base in (os.environ.get("REGISTRY_WIDGETS_CERTS_D"), "/etc/docker/certs.d",
                 os.path.expanduser("~/.docker/certs.d")):
        if base:
            candidate = Path(base) / host / "ca.crt"
            if candidate.is_file():
                return str(candidate)
    return None


class Transport:
    """Sends requests to one registry, retrying and authenticating as needed."""

    def __init__(self, registry: str, *, credentials: Credentials | None = None,
                 ca_bundle: str | None = None, insecure: bool = False,
                 insecure_hosts: Iterable[str] = (), timeout: float | tuple[float, float] = (10, 300),
                 retries: int = 4, backoff: float = 0.5, pool_size: int = 16):
        scheme, _, host = registry.rpartition("://")
        self.registry = host  # as written in references: host[:port]
        self.api_host = DOCKER_HUB_API if host in ("docker.io", "index.docker.io") else host
        allowed = set(insecure_hosts) | insecure_hosts_from_env()
        self.allow_http = insecure or is_loopback(host) or host in allowed
        if scheme == "http" and not self.allow_http:
            raise InsecureRegistry(
                f"refusing plain HTTP to {host}: only loopback registries or hosts you list as "
                f"insecure (insecure_hosts=[{host!r}] or REGISTRY_WIDGETS_INSECURE) may skip TLS",
                registry=host)
        self._scheme = scheme or None  # None: https, falling back to http where allowed
        self.verify: str | bool = ca_bundle or os.environ.get("REGISTRY_WIDGETS_CA_BUNDLE") \
            or docker_ca_bundle(host) or True
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.auth = Authenticator(host, credentials, self._raw)
        self._fast: _FastPool | None = None  # made on first use, once the scheme is known
        self._fast_checked = False
        self._lock = threading.Lock()
        # A Retry-After pauses every request to this registry, not only the one it answered:
        # a rate limit is per client, and the other workers would only burn requests.
        self._resume_at = 0.0  # time.monotonic()
        self.stats = {"requests": 0, "bytes_up": 0, "bytes_down": 0}

    def __repr__(self) -> str:
        return f"Transport({self.registry!r})"

    def count(self, key: str, amount: int) -> None:
        with self._lock:
            self.stats[key] += amount

    # -- URLs and scheme -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url()

    def _base_url(self, reference: str = "") -> str:
        if self._scheme is None:
            self._scheme = self._detect_scheme(reference)
        return f"{self._scheme}://{self.api_host}"

    def url(self, path_or_url: str, reference: str = "") -> str:
        if path_or_url.startswith("/") and not path_or_url.startswith("//"):
            return self._base_url(reference) + path_or_url  # the common case, without urljoin
        return urljoin(self._base_url(reference) + "/", path_or_url)

    def _detect_scheme(self, reference: str = "") -> str:
        """HTTPS first, as docker does; plain HTTP only where allowed and TLS fails.

        A failed handshake means either a plain-HTTP server or a TLS server we do not trust.
        Only a registry's answer over HTTP settles it for the former; a TLS server answers
        plain HTTP with 400 ("Client sent an HTTP request to an HTTPS server") and must give
        the TLS error, not a confusing HTTP 400 later.
        """
        try:
            self._raw("GET", f"https://{self.api_host}/v2/")
            return "https"
        except requests.RequestException as e:
            if self.allow_http:
                try:
                    probe = self._raw("GET", f"http://{self.api_host}/v2/")
                    probe.close()
                    if not isinstance(e, requests.exceptions.SSLError) or _speaks_registry(probe):
                        return "http"
                except requests.RequestException:
                    pass
            raise self._connection_error(e, reference) from e

    def _raw(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if method in ("GET", "HEAD") and kwargs.keys() <= {"headers"}:
            pool = self._fast_pool(url)
            if pool is not None:
                self.count("requests", 1)
                response = pool.request(method, url, kwargs.get("headers") or {})
                if response is not None:
                    for hook in self.session.hooks.get("response") or ():
                        hook(response)  # observers see both paths alike
                    return response  # type: ignore[return-value]
                # a redirect (blobs in object storage): requests follows it
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("allow_redirects", True)
        self.count("requests", 1)
        return self.session.request(method, url, **kwargs)

    def _fast_pool(self, url: str) -> "_FastPool | None":
        """The http.client pool for this registry's API origin, or None where requests must
        do the work: another origin (a token realm, a redirect), or a proxy set for it in
        the environment (requests honours those, so must we)."""
        if self._scheme is None or not url.startswith(f"{self._scheme}://{self.api_host}/"):
            return None
        with self._lock:
            if not self._fast_checked:
                self._fast_checked = True
                if not (self.session.trust_env and get_environ_proxies(url)):
                    self._fast = _FastPool(self._scheme, self.api_host, self.verify,
                                           self.timeout)
            return self._fast

    def close(self) -> None:
        """Close every connection (both paths)."""
        self.session.close()
        with self._lock:
            if self._fast is not None:
                self._fast.close()

    # -- the one request path --------------------------------------------------------------

    def request(self, method: str, path: str, *, scopes: tuple[str, ...] = (), reference: str = "",
                ok: Iterable[int] = (200,), retry: bool | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """Send one request; return the response when its status is in ``ok``.

        Retries dropped connections and 429/502/503/504 (honouring ``Retry-After``) for
        idempotent requests with replayable bodies, and 500 for reads; answers a 401
        challenge once. A refused token is forgotten even when the request cannot be
        replayed, so the caller's next attempt gets a fresh one.
        """
        ok = set(ok)
        data = kwargs.get("data")
        # A streamed body cannot be sent twice: no replay, not even after a 401. Uploads
        # therefore open with a POST that answers any challenge before the body starts.
        replayable = data is None or isinstance(data, (bytes, str, dict))
        if retry is None:
            retry = method in IDEMPOTENT and replayable
        retry_statuses = RETRY_READ_STATUSES if method in SAFE_METHODS else RETRY_STATUSES
        url = self.url(path, reference)
        # One 401 is answered by fetching a fresh token; a client that has not yet learned
        # the registry's scheme may need one more (learn, then a token that was refused).
        challenges_left = 1 if self.auth.scheme else 2
        attempt = 0
        while True:
            self._wait_for_retry_after()
            try:
                response = self._raw(method, url, headers={
                    **(headers or {}), **self.auth.header(scopes, reference)}, **kwargs)
            except requests.exceptions.SSLError as e:
                raise self._connection_error(e, reference) from e
            except _CONNECTION_ERRORS as e:
                if not retry or attempt >= self.retries:
                    raise self._connection_error(e, reference) from e
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.status_code == 401 and challenges_left:
                challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
                if challenge is not None:
                    self.auth.learn(challenge)
                    self.auth.invalidate(scopes)
                if challenge is not None and replayable:
                    wanted = challenge.params.get("scope")
                    if wanted and challenge.scheme == "bearer":
                        scopes = merge_scopes(scopes, wanted.split(" "))
                    challenges_left -= 1
                    response.close()
                    continue
            if response.status_code in retry_statuses and retry and attempt < self.retries:
                self._sleep(attempt, response.headers.get("Retry-After"))
                response.close()
                attempt += 1
                continue
            break
        if response.status_code in RETRY_READ_STATUSES and response.status_code not in ok:
            # Out of retries (or not ours to replay): whoever tries again waits as asked.
            self._note_retry_after(response.headers.get("Retry-After"))
        if response.status_code not in ok:
            raise error_for(response, registry=self.registry, reference=reference, method=method,
                            authenticated=self.auth.has_credentials)
        return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        if self._note_retry_after(retry_after) is None:
            time.sleep(self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
        # else: the next attempt waits in _wait_for_retry_after, with every other request

    def _note_retry_after(self, retry_after: str | None) -> float | None:
        delay = parse_retry_after(retry_after)
        if delay is not None:
            delay = min(delay, MAX_RETRY_AFTER)
            with self._lock:
                self._resume_at = max(self._resume_at, time.monotonic() + delay)
        return delay

    def _wait_for_retry_after(self) -> None:
        with self._lock:
            wait = self._resume_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _connection_error(self, error: Exception, reference: str) -> RegistryError:
        where = f"{self.registry}" + (f" ({reference})" if reference else "")
        text = str(error)
        if isinstance(error, requests.exceptions.SSLError):
            return Unreachable(
                f"TLS verification failed for {where}. If the registry uses a private CA, pass "
                f"ca_bundle=PATH or put the CA at /etc/docker/certs.d/{self.registry}/ca.crt; a "
                "loopback registry on plain HTTP needs no TLS.", registry=self.registry,
                reference=reference)
        if "Name or service not known" in text or "NameResolution" in text or \
                "nodename nor servname" in text or "Temporary failure in name resolution" in text:
            return Unreachable(f"cannot resolve the registry host of {where}: check the spelling "
                               "of the registry name", registry=self.registry, reference=reference)
        if "Connection refused" in text or "ConnectionRefused" in text:
            return Unreachable(f"connection refused by {where}: is the registry running and "
                               "listening on that port?", registry=self.registry,
                               reference=reference)
        if isinstance(error, requests.Timeout):
            return Unreachable(f"{where} did not answer in time; check the network or try again",
                               registry=self.registry, reference=reference)
        return Unreachable(f"lost the connection to {where} ({type(error).__name__}); check the "
                           "network and try again", registry=self.registry, reference=reference)


class _FastResponse:
    """The part of ``requests.Response`` the registry client reads, for a response that
    ``_FastPool`` read in full: ``status_code``, ``headers`` (case-insensitive), ``content``,
    ``text``, ``json()``, ``links``, ``url``, ``close()``."""

    __slots__ = ("status_code", "reason", "headers", "content", "url", "method")

    def __init__(self, status: int, reason: str, headers: CaseInsensitiveDict, content: bytes,
                 url: str, method: str):
        self.status_code, self.reason, self.headers = status, reason, headers
        self.content, self.url, self.method = content, url, method

    @property
    def request(self) -> "_FastResponse":
        return self  # ``response.request.method`` and ``.url``, as requests has them

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
        pass  # already read to the end; its connection is back in the pool


_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
          BrokenPipeError, ConnectionAbortedError)


class _FastPool:
    """Keep-alive ``http.client`` connections to one origin, shared by all threads (an idle
    connection is taken by whichever request comes next). A request on a reused connection
    that the server had closed meanwhile is sent once more on a new one, as urllib3 does;
    failures are raised as the ``requests`` exceptions ``Transport.request`` retries on."""

    def __init__(self, scheme: str, host: str, verify: str | bool,
                 timeout: float | tuple[float, float]):
        self.scheme, self.host = scheme, host
        self.connect_timeout, self.read_timeout = timeout if isinstance(timeout, tuple) \
            else (timeout, timeout)
        self._idle: collections.deque[http.client.HTTPConnection] = collections.deque()
        self._context: ssl.SSLContext | None = None
        if scheme == "https":
            if verify is False:
                context = ssl._create_unverified_context()  # noqa: S323 - the user asked
            else:
                cafile = verify if isinstance(verify, str) else (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                    or requests.certs.where())
                if os.path.isdir(cafile):
                    context = ssl.create_default_context(capath=cafile)
                else:
                    context = ssl.create_default_context(cafile=cafile)
            self._context = context

    def _new(self) -> http.client.HTTPConnection:
        if self._context is not None:
            return http.client.HTTPSConnection(self.host, timeout=self.connect_timeout,
                                               context=self._context)
        return http.client.HTTPConnection(self.host, timeout=self.connect_timeout)

    def request(self, method: str, url: str, headers: dict[str, str]) -> _FastResponse | None:
        """Send and read the whole response; None for a redirect (the caller uses requests)."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        for attempt in (0, 1):
            try:
                connection, reused = self._idle.popleft(), True
            except IndexError:
                connection, reused = self._new(), False
            try:
                if connection.sock is None:
                    connection.connect()
                    connection.sock.settimeout(self.read_timeout)
                connection.request(method, target, headers=sent)
                answer = connection.getresponse()
                content = answer.read()
            except _STALE as e:
                connection.close()
                if reused and attempt == 0:
                    continue  # the server closed it while idle: a new connection, once
                raise requests.ConnectionError(f"{type(e).__name__}: {e}") from e
            except socket.timeout as e:
                connection.close()
                raise requests.Timeout(str(e)) from e
            except (ssl.SSLError, ssl.CertificateError) as e:
                connection.close()
                raise requests.exceptions.SSLError(str(e)) from e
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                raise requests.ConnectionError(f"{type(e).__name__}: {e}") from e
            if answer.will_close:
                connection.close()
            else:
                self._idle.append(connection)
            if 300 <= answer.status < 400 and answer.getheader("Location"):
                return None
            merged: CaseInsensitiveDict = CaseInsensitiveDict()
            for key, value in answer.getheaders():
                merged[key] = f"{merged[key]}, {value}" if key in merged else value
            return _FastResponse(answer.status, answer.reason, merged, content, url, method)
        raise AssertionError("unreachable")

    def close(self) -> None:
        while self._idle:
            self._idle.popleft().close()


def _speaks_registry(response: requests.Response) -> bool:
    """False for a TLS port refusing plain HTTP: Go and nginx answer 400 without the
    registry's ``Docker-Distribution-API-Version`` header."""
    return "Docker-Distribution-API-Version" in response.headers or response.status_code != 400


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _registry_error_text(response: requests.Response) -> tuple[str | None, str]:
    """(code, message) from distribution's ``{"errors": [{"code", "message"}]}`` body."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return first.get("code"), first.get("message") or first.get("code") or ""
    except (ValueError, AttributeError, IndexError, KeyError, TypeError):
        return None, ""


def _insufficient_scope(response: requests.Response) -> bool:
    challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
    return challenge is not None and challenge.params.get("error") == "insufficient_scope"


def _wanted_scope(response: requests.Response) -> str:
    challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
    return (challenge.params.get("scope") if challenge else None) or "unknown scope"


def error_for(response: requests.Response, *, registry: str, reference: str = "",
              method: str = "GET", authenticated: bool = False) -> RegistryError:
    """Turn a failed response into this package's error: the one place this happens."""
    status = response.status_code
    code, message = _registry_error_text(response)
    what = f"{reference} on {registry}" if reference else registry
    said = f" (registry said: {code or ''}{': ' if code and message else ''}{message})" \
        if (code or message) else ""
    kw = dict(registry=registry, reference=reference or None, status=status, code=code)
    content_type = response.headers.get("Content-Type", "")
    if code is None and "html" in content_type.lower():
        return ProtocolError(f"{registry} answered HTTP {status} with an HTML page, not the registry "
                             f"API, for {what}: is that address a registry (or a login portal / "
                             "proxy in the way)?", **kw)
    if status == 401 and authenticated and _insufficient_scope(response):
        # distribution answers a valid token that lacks an action with 401, not 403:
        # `error="insufficient_scope"` (docs/spec/auth/token.md). Logging in again won't help.
        return Denied(f"access denied to {what}: the registry accepted your credentials "
                      f"but they lack permission for this action ({_wanted_scope(response)}); ask "
                      "the namespace's owner for access or use an account that has it", **kw)
    if status == 401:
        return Unauthorized(f"unauthorized: authentication required for {what}{said}. "
                            + LOGIN_HINT.format(registry=registry), **kw)
    if status == 403:
        return Denied(f"access denied to {what}{said}: your credentials work but lack permission; "
                      "ask the namespace's owner for access", **kw)
    if status == 404:
        return NotFound(f"{what} not found{said}: check the repository, tag or digest", **kw)
    if status == 405 and method == "DELETE":
        return DeleteDisabled(f"{registry} does not allow deletes (HTTP 405) for {what}{said}. Its "
                              "operator must enable them (CNCF distribution: storage: delete: "
                              "enabled: true); nothing was changed", **kw)
    if status == 429:
        return RateLimited(f"{registry} is rate limiting requests for {what} (HTTP 429){said}; wait "
                           "and try again later, or log in for a higher limit", **kw)
    if status == 400 and code == "DIGEST_INVALID":
        return DigestMismatch(f"{registry} rejected the content of {what}: its digest does not "
                              f"match{said}; nothing was stored", **kw)
    if status >= 500:
        return RegistryError(f"{registry} failed with HTTP {status} for {what}{said}; the registry "
                             "has a problem, try again later", **kw)
    return RegistryError(f"{registry} answered HTTP {status} for {method} {what}{said}", **kw)
