"""HTTP to one registry: ``Transport``, its session, redirects, retries and timeouts.

Part of ``transport``: imports ``errors``, ``reference``, ``credentials`` and its siblings
``auth``, ``curl``, ``cancel``, ``origin``, ``tls`` and ``errors``. ``registry`` builds on
it. One ``requests.Session`` per registry with a connection pool sized for concurrent blob
copies. The single place where an HTTP failure becomes an exception is ``error_for``
(``transport.errors``); the connection and TLS failures are explained here.

Small bodiless GETs and HEADs to the registry's own origin (tag lists, manifest HEADs and
GETs, configs), most of a listing's requests, are sent by ``curl`` on libcurl (HTTP/2 where
the registry offers it, keep-alive HTTP/1.1 otherwise), at a small fraction of requests'
CPU per request. They go through the same ``send`` (redirects, credentials bound to the
origin) and ``request`` (auth, retries, ``error_for``) as every other request; only the
last step, moving the bytes, differs. Their bodies are bounded (``curl.MAX_BODY``).

Credentials are bound to the registry's origin (scheme, host and port). Redirects are
followed here, hop by hop, not by ``requests``: a request to any other origin (a blob
redirect to object storage, an absolute pagination ``Link`` or upload ``Location`` on
another host) goes out through a second session that has no cookie jar, without an
``Authorization`` header; a 401 from such an origin is never taken as a challenge (it could
otherwise name a token "realm" that collects the password). Such requests are followed, not
refused, since registries do hand out object-storage URLs; going from HTTPS to plain HTTP on
another host is refused unless that host may use plain HTTP (loopback or ``insecure_hosts``).

Timeouts: ``(connect, read)`` where the read timeout bounds the wait for the first byte
of an answer and then each read of the body, so a silent server fails in about 30 s
(a timed-out request is retried once) while a slow large blob keeps streaming.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

import requests

from .. import paths
from ..credentials import Credentials
from ..errors import (Cancelled, ConfigurationError, InsecureRegistry, ProtocolError,
                      RegistryError, Unauthorized, Unreachable)
from ..reference import validate_registry
from .auth import Authenticator, merge_scopes, parse_challenge
from .cancel import _Adapter, _note, _stopped
from .errors import _body_hint, _shown, _speaks_registry, error_for, parse_retry_after
from .origin import hostname, is_loopback, origin_of
from .curl import MAX_BODY, BodyTooLarge, Client, Malformed
from .tls import check_ca_file, docker_ca_bundle, insecure_hosts_from_env

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
# (connect, read): the read timeout is per read, so it bounds the first byte and any stall
# in a body, never a whole blob. A timed-out request is tried TIMEOUT_ATTEMPTS times in all.
DEFAULT_TIMEOUT = (5.0, 12.0)
TIMEOUT_ATTEMPTS = 2
# After the last byte of a streamed upload the registry may verify and move the whole blob
# (object storage: minutes for GiBs) before it answers.
UPLOAD_REPLY_TIMEOUT = 300.0
MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DOCKER_HUB_API = "registry-1.docker.io"
USER_AGENT = "registry-widgets/0.1"
# What requests would send by default, less compression: a manifest or tag list is a few
# KiB, and a gzip round trip costs more CPU than the bytes it saves on a registry's network.
FAST_HEADERS = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
# _raw's keyword arguments that the small-request path (curl) understands; any other
# (stream, params, data, ...) means requests sends.
_FAST_KWARGS = frozenset({"headers", "timeout", "verify", "allow_redirects"})


def check_timeout(timeout: Any) -> tuple[float, float]:
    """``timeout`` as (connect, read) seconds, or ConfigurationError."""
    values = timeout if isinstance(timeout, (tuple, list)) else (timeout, timeout)
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                   and v > 0 for v in values):
        raise ConfigurationError(f"timeout must be seconds > 0, or a (connect, read) pair of "
                                 f"them, not {timeout!r}")
    return float(values[0]), float(values[1])


class Transport:
    """Sends requests to one registry, retrying and authenticating as needed."""

    def __init__(self, registry: str, *, credentials: Credentials | None = None,
                 ca_bundle: str | None = None, insecure: bool = False,
                 insecure_hosts: Iterable[str] = (),
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 retries: int = 4, backoff: float = 0.5, pool_size: int = 16,
                 reload_credentials: Callable[[], Credentials] | None = None):
        registry = validate_registry(registry)  # refuses user:password@ without echoing it
        scheme, _, host = registry.rpartition("://")
        self.registry = host  # as written in references: host[:port]
        self.api_host = DOCKER_HUB_API if host in ("docker.io", "index.docker.io") else host
        self._allowed = set(insecure_hosts) | insecure_hosts_from_env()
        self._insecure = insecure
        self.allow_http = self.may_use_http(host)
        if scheme == "http" and not self.allow_http:
            raise InsecureRegistry(
                f"refusing plain HTTP to {host}: only loopback registries or hosts you list as "
                f"insecure (insecure_hosts=[{host!r}] or REGISTRY_WIDGETS_INSECURE) may skip TLS",
                registry=host)
        self._scheme = scheme or None  # None: https, falling back to http where allowed
        # Where the CA came from, for messages: a wrong CA is the user's to fix, not "pass one".
        self.ca_source: str | None = None
        if ca_bundle is not None:
            self.ca_source = f"ca_bundle={os.fspath(ca_bundle)!r}" \
                if isinstance(ca_bundle, (str, os.PathLike)) else "ca_bundle"
            self.verify: str | bool = check_ca_file(ca_bundle, self.ca_source)
        elif (bundle := paths.ca_bundle()) is not None:
            self.ca_source = paths.CA_BUNDLE_ENV
            self.verify = check_ca_file(bundle, self.ca_source)
        elif (found := docker_ca_bundle(host)) is not None:
            self.ca_source = "Docker's certs.d"
            self.verify = check_ca_file(found, self.ca_source)
        else:
            self.verify = True
        self.timeout = check_timeout(timeout)
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # Other origins: no cookie jar (a registry's cookies are domain- not port-bound in
        # requests), never an Authorization header; a small pool of its own.
        self._foreign = requests.Session()
        self._foreign.headers["User-Agent"] = USER_AGENT
        self._foreign.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        foreign_adapter = _Adapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self._foreign.mount("https://", foreign_adapter)
        self._foreign.mount("http://", foreign_adapter)
        self.auth = Authenticator(host, credentials, self.fetch_token, reload=reload_credentials)
        # Small bodiless GETs and HEADs to the registry's own origin (tag lists, manifests,
        # configs) go through libcurl. Made on first use, once the scheme is known;
        # everything else (bodies, streams, other origins) goes through requests.
        self._fast: Client | None = None
        self._lock = threading.Lock()
        self._detecting = threading.Lock()  # held while the scheme is probed
        # A Retry-After pauses every request to this registry, not only the one it answered:
        # a rate limit is per client, and the other workers would only burn requests.
        self._resume_at = 0.0  # time.monotonic()
        self.stats = {"requests": 0, "bytes_up": 0, "bytes_down": 0}

    def __repr__(self) -> str:
        return f"Transport({self.registry!r})"

    def close(self) -> None:
        self.session.close()
        self._foreign.close()
        with self._lock:
            fast, self._fast = self._fast, None  # a later request makes a new one
        if fast is not None:
            fast.close()

    def may_use_http(self, host: str) -> bool:
        """Plain HTTP is allowed for loopback hosts, hosts listed as insecure, and (with
        ``insecure=True``) this registry's own host."""
        return is_loopback(host) or host in self._allowed or \
            (self._insecure and host in (self.registry, self.api_host))

    def count(self, key: str, amount: int) -> None:
        with self._lock:
            self.stats[key] += amount

    # -- URLs and scheme -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url()

    def _base_url(self, reference: str = "") -> str:
        if self._scheme is None:
            # One probe per registry: the workers of a sync or a copy ask at once, and each
            # HTTPS probe of a plain-HTTP registry loads the CA bundle (sync 20 x 3 sent 16
            # probes to its target). The others wait for its answer, or for their stop.
            while not self._detecting.acquire(timeout=0.1):
                if _stopped():
                    raise Cancelled(f"the request to {self.registry} was cancelled")
            try:
                if self._scheme is None:
                    self._scheme = self._detect_scheme(reference)
            finally:
                self._detecting.release()
        return f"{self._scheme}://{self.api_host}"

    def url(self, path_or_url: str, reference: str = "") -> str:
        base = self._base_url(reference)
        if path_or_url.startswith("/") and not path_or_url.startswith("//") and \
                "/." not in path_or_url:
            return base + path_or_url  # what urljoin gives for such a path, cheaper
        return urljoin(base + "/", path_or_url)

    def _detect_scheme(self, reference: str = "") -> str:
        """HTTPS first, as docker does; plain HTTP only where allowed and TLS fails.

        A failed handshake means either a plain-HTTP server or a TLS server we do not trust.
        Only a registry's answer over HTTP settles it for the former; a TLS server answers
        plain HTTP with 400 ("Client sent an HTTP request to an HTTPS server") and must give
        the TLS error, not a confusing HTTP 400 later.
        """
        try:
            self._raw("GET", f"https://{self.api_host}/v2/").close()
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

    def _raw(self, method: str, url: str, *, session: requests.Session | None = None,
             **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        kwargs["allow_redirects"] = False  # followed in send(), where credentials are bound
        self.count("requests", 1)
        session = session or self.session
        if session is self.session and method in ("GET", "HEAD") and \
                kwargs.keys() <= _FAST_KWARGS and kwargs["verify"] is self.verify:
            fast = self._fast_client(url)
            if fast is not None:
                headers = {**FAST_HEADERS, **{k: v for k, v in (kwargs.get("headers") or {}).items()
                                              if v is not None}}
                timeout = kwargs["timeout"]
                response = fast.request(method, url, headers, timeout if timeout is self.timeout
                                        else check_timeout(timeout))
                for hook in self.session.hooks.get("response") or ():
                    hook(response)  # observers see both paths alike
                return response  # type: ignore[return-value]
        return session.request(method, url, **kwargs)

    def _fast_client(self, url: str) -> Client | None:
        """The libcurl client for the registry's own API origin, or None where requests
        must send: before the scheme is known, or another origin. It sends the session's
        cookies and keeps the ones the registry sets in the same jar, and reads the
        environment's proxies at each request, as requests does."""
        if self._scheme is None or not url.startswith(f"{self._scheme}://{self.api_host}/"):
            return None
        fast = self._fast
        if fast is None:
            with self._lock:
                if self._fast is None:
                    self._fast = Client(self.verify, self.session.cookies, _note, _stopped,
                                        lambda: self.session.trust_env)
                fast = self._fast
        return fast

    @property
    def multiplexed(self) -> bool:
        """True once the registry's own origin answered a small request over HTTP/2: its
        one connection then carries many requests at once (a listing keeps more in flight;
        over HTTP/1.1 each request in flight is a connection of its own)."""
        fast = self._fast
        return fast is not None and fast.multiplexed

    def is_own(self, url: str) -> bool:
        """True when ``url`` is on this registry's origin (scheme, host and port)."""
        if url.startswith(self._base_url() + "/"):
            return True  # the common case, without parsing (a listing asks this per request)
        return origin_of(url) == origin_of(self._base_url())

    def send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
             credentials: dict[str, str] | None = None, origin: str | None = None,
             reference: str = "", **kwargs: Any) -> requests.Response:
        """One request, following redirects for GET and HEAD hop by hop. ``credentials``
        (an Authorization header) and cookies go only to ``origin`` (default: the registry's
        own); every other hop is sent without them."""
        home = origin_of(origin) if origin else None  # None: the registry's own
        start = url
        for _ in range(MAX_REDIRECTS + 1):
            own = self.is_own(url) if home is None else origin_of(url) == home
            if not own:
                self._check_foreign(url, start, reference)
            sent = {**(headers or {}), **((credentials or {}) if own else {})}
            response = self._raw(method, url, session=self.session if own and not origin
                                 else self._foreign, headers=sent, **kwargs)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location or \
                    method not in ("GET", "HEAD"):
                return response
            response.close()
            url = urljoin(response.url, location)
            kwargs.pop("params", None)  # they are part of the URL redirected from
        raise ProtocolError(f"{self.registry} redirected {self._what(reference)} more than "
                            f"{MAX_REDIRECTS} times (last to {_shown(url)}); the request cannot "
                            "end. Ask the registry's operator to check its redirects",
                            registry=self.registry, reference=reference or None)

    def _check_foreign(self, url: str, start: str, reference: str) -> None:
        scheme, host, _ = origin_of(url)
        if scheme not in ("http", "https"):
            raise ProtocolError(f"{self.registry} sent {self._what(reference)} to {_shown(url)}, "
                                "which is not an http(s) URL", registry=self.registry,
                                reference=reference or None)
        if scheme == "http" and origin_of(start)[0] == "https" and not self.may_use_http(host):
            raise InsecureRegistry(
                f"{self.registry} sent {self._what(reference)} on to {_shown(url)}, plain HTTP on "
                f"another host; refusing to leave TLS. If {host} is trusted, list it in "
                f"insecure_hosts (or REGISTRY_WIDGETS_INSECURE)", registry=self.registry,
                reference=reference or None)

    def _what(self, reference: str) -> str:
        return f"the request for {reference}" if reference else "a request"

    def fetch_token(self, method: str, realm: str, *, authorization: str | None = None,
                    reference: str = "", **kwargs: Any) -> requests.Response:
        """A request to the token server a challenge named. ``authorization`` (the user's
        Basic credentials) goes to the realm's origin only, and never over plain HTTP to a
        host that may not use it; registry cookies never go there."""
        scheme, host, _ = origin_of(realm)
        if scheme not in ("http", "https"):
            raise ProtocolError(f"{self.registry} names a token server {_shown(realm)} that is "
                                "not an http(s) URL", registry=self.registry)
        if authorization and scheme == "http" and not self.may_use_http(host):
            raise InsecureRegistry(
                f"{self.registry} names its token server on plain HTTP ({_shown(realm)}); "
                "credentials are not sent without TLS. If that host is trusted, list "
                f"{host} in insecure_hosts", registry=self.registry)
        credentials = {"Authorization": authorization} if authorization else None
        return self.send(method, realm, credentials=credentials, origin=realm,
                         reference=reference, **kwargs)

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
        if not replayable and method in ("PUT", "PATCH") and "timeout" not in kwargs:
            kwargs["timeout"] = (self.timeout[0], max(self.timeout[1], UPLOAD_REPLY_TIMEOUT))
        retry_statuses = RETRY_READ_STATUSES if method in SAFE_METHODS else RETRY_STATUSES
        url = self.url(path, reference)
        own = self.is_own(url)
        # One 401 is answered by fetching a fresh token; a client that has not yet learned
        # the registry's scheme may need one more (learn, then a token that was refused).
        challenges_left = 1 if self.auth.scheme else 2
        reloaded = False
        attempt = timeouts = 0
        while True:
            self._wait_for_retry_after()
            try:
                credentials = self.auth.header(scopes, reference) if own else None
            except Unauthorized:  # the token server refused them
                if reloaded or not self.auth.reload_credentials():
                    raise
                reloaded = True  # `docker login` ran since they were read: once more
                continue
            try:
                response = self.send(method, url, headers=headers, reference=reference,
                                     credentials=credentials, **kwargs)
            except requests.exceptions.SSLError as e:
                raise self._connection_error(e, reference) from e
            except BodyTooLarge:
                raise ProtocolError(
                    f"{self.registry} answered {self._what(reference)} with a body larger than "
                    f"{MAX_BODY >> 20} MiB, the most a manifest, tag list or config may have "
                    "(distribution's manifest limit); it was not read. The registry or a proxy "
                    "in front of it is broken", registry=self.registry,
                    reference=reference or None) from None
            except Malformed as e:
                raise ProtocolError(
                    f"{self.registry} answered {self._what(reference)} with something that is "
                    f"not valid HTTP ({e}); nothing of it was used. The registry or a proxy in "
                    "front of it is broken", registry=self.registry,
                    reference=reference or None) from None
            except _CONNECTION_ERRORS as e:
                timeouts += isinstance(e, requests.Timeout)
                if not retry or attempt >= self.retries or timeouts >= TIMEOUT_ATTEMPTS or \
                        _stopped():
                    raise self._connection_error(e, reference) from e
                self._sleep(attempt, None)
                attempt += 1
                continue
            except requests.RequestException as e:  # a malformed URL or header: not retried
                raise ProtocolError(f"could not send {self._what(reference)} to {self.registry} "
                                    f"({type(e).__name__}); the registry sent an address or "
                                    "header that cannot be used", registry=self.registry,
                                    reference=reference or None) from None
            # Only the registry's own answers are challenges: a 401 from another origin
            # could name a "realm" that collects the password.
            challenge_ok = response.status_code == 401 and self.is_own(response.url)
            if challenge_ok and challenges_left:
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
            if challenge_ok and not reloaded and replayable and self.auth.reload_credentials():
                # `docker login` may have run since the credentials were read: once, re-read
                # them (config.json and its credential helpers) and try again.
                reloaded, challenges_left = True, 1
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
            if response.status_code == 400 and urlsplit(response.url).scheme == "http" and \
                    not _speaks_registry(response):
                raise Unreachable(
                    f"{self.registry} speaks TLS, not plain HTTP: {self._what(reference)} was "
                    f"answered HTTP 400 ({_body_hint(response)}). Use https://{self.registry} "
                    "(or leave the scheme out)", registry=self.registry,
                    reference=reference or None, status=400)
            if not self.is_own(response.url):
                raise self._foreign_error(response, method, reference)
            raise error_for(response, registry=self.registry, reference=reference, method=method,
                            authenticated=self.auth.has_credentials, who=self.auth.describe())
        return response

    def _foreign_error(self, response: requests.Response, method: str,
                       reference: str) -> RegistryError:
        status = response.status_code
        where = _shown(response.url)
        if status in (401, 403):
            return Unauthorized(
                f"{self.registry} sent {self._what(reference)} on to {where} (another origin), "
                f"which answered HTTP {status}. Credentials for {self.registry} are never sent "
                "to another origin; the registry's operator must hand out URLs that need none "
                "(such as signed object-storage URLs)", registry=self.registry,
                reference=reference or None, status=status)
        error = error_for(response, registry=self.registry, reference=reference, method=method)
        error.args = (f"{error.args[0]} (answered by {where}, where {self.registry} sent the "
                      "request)",)
        return error

    def _tls_error(self, error: Exception, where: str, reference: str) -> RegistryError:
        text = str(error)
        kw = dict(registry=self.registry, reference=reference or None)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            if "mismatch" in text.lower() or "doesn't match" in text:
                return Unreachable(f"TLS verification failed for {where}: its certificate is "
                                   f"for another host name than {hostname(self.api_host)}. Use "
                                   "the name the certificate was issued for", **kw)
            if self.ca_source:
                return Unreachable(
                    f"TLS verification failed for {where}: its certificate is not signed by the "
                    f"CA file {self.verify} (from {self.ca_source}). Check that this is the CA "
                    "that issued the registry's certificate (or its whole chain)", **kw)
            return Unreachable(
                f"TLS verification failed for {where}: its certificate is not signed by a CA "
                "this machine trusts. If the registry uses a private CA, pass ca_bundle=PATH "
                f"or put the CA at /etc/docker/certs.d/{self.registry}/ca.crt; a loopback "
                "registry on plain HTTP needs no TLS.", **kw)
        if self._answers_plain_http():
            fix = (f"use http://{self.registry} (or leave the scheme out)" if self.allow_http
                   else "plain HTTP is used only for loopback registries or hosts you list in "
                   f"insecure_hosts (or REGISTRY_WIDGETS_INSECURE); add {self.registry} there "
                   "if you trust the network, or ask its operator for TLS")
            return Unreachable(f"{self.registry} speaks plain HTTP, not TLS: the TLS handshake "
                               f"for {where} failed. {fix[0].upper()}{fix[1:]}", **kw)
        return Unreachable(f"the TLS handshake with {where} failed ({type(error).__name__}); is "
                           "that port a TLS registry?", **kw)

    def _answers_plain_http(self) -> bool:
        try:
            probe = self._raw("GET", f"http://{self.api_host}/v2/", session=self._foreign,
                              timeout=(self.timeout[0], min(self.timeout[1], 5.0)))
        except requests.RequestException:
            return False
        probe.close()
        return _speaks_registry(probe)

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
            return self._tls_error(error, where, reference)
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
