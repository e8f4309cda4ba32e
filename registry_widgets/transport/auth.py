"""Registry authentication: the Basic and Bearer challenge flows and the token cache.

Part of ``transport`` (``session`` and ``errors`` use it; ``registry`` takes ``scopes_for``
from the package): imports ``errors`` and ``credentials``.
The Bearer flow is the one Docker Hub, GHCR, Harbor and IBM Cloud Container Registry use:
a 401 names a token ``realm``, ``service`` and ``scope``; we fetch a token there (with basic
credentials, or an identity token as a refresh token) and cache it per scope set.
Tokens and passwords are never logged, put in messages, or shown in a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import requests

from ..credentials import Credentials
from ..errors import LOGIN_HINT, ProtocolError, RegistryError, Unauthorized, Unreachable

log = logging.getLogger("registry_widgets.transport.auth")

# distribution documents 60 s when the token server omits expires_in.
DEFAULT_TOKEN_LIFETIME = 60.0
# Refresh this long before expiry, so a token does not die between our check and the
# registry's (and a long upload is less likely to outlive it).
REFRESH_MARGIN = 10.0
# `docker login` then Refresh: after a 401, Docker's config is re-read at most this often.
RELOAD_INTERVAL = 5.0
# distribution accepts a token until exp + 60 s (its Leeway); one already past that by this
# machine's clock when it arrives was expired at issue: the clocks disagree.
LEEWAY = 60.0

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse ``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme=scheme.lower(), params=params)


def scopes_for(repository: str | None, actions: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Token scopes for an action on a repository (``repository:ns/app:pull,push``)."""
    scopes = [f"repository:{repository}:{actions}"] if repository else []
    return merge_scopes(scopes, extra)


def merge_scopes(*groups: Iterable[str]) -> tuple[str, ...]:
    """One scope per resource, actions sorted: the canonical form tokens are cached under.

    distribution's challenges list actions in no fixed order (``push,pull`` one time,
    ``pull,push`` the next); unmerged, each spelling would cost its own token.
    """
    actions: dict[str, set[str]] = {}
    for scope in (s for group in groups for s in group if s):
        resource, sep, wanted = scope.rpartition(":")
        if not sep or ":" not in resource:  # not type:name:actions; keep it verbatim
            actions.setdefault(scope, set())
            continue
        actions.setdefault(resource, set()).update(a for a in wanted.split(",") if a)
    return tuple(sorted(f"{resource}:{','.join(sorted(acts))}" if acts else resource
                        for resource, acts in actions.items()))


@dataclass
class _Token:
    value: str
    refresh_at: float  # monotonic time after which we fetch a new one
    issued_at: float = 0.0  # monotonic
    expired_by: float | None = None  # s past exp (+ leeway) by our clock on arrival (a JWT)

    @classmethod
    def issued(cls, value: str, lifetime: float) -> "_Token":
        # Refresh REFRESH_MARGIN early, but never spend less than 3/4 of a short lifetime.
        usable = max(lifetime - REFRESH_MARGIN, lifetime * 0.75)
        now = time.monotonic()
        return cls(value=value, refresh_at=now + usable, issued_at=now,
                   expired_by=_expired_by(value))

    def fresh(self) -> bool:
        return time.monotonic() < self.refresh_at


class Authenticator:
    """Adds the right Authorization header to requests for one registry.

    Thread-safe: copy and listing call it from several worker threads.
    """

    def __init__(self, registry: str, credentials: Credentials | None,
                 fetch: Callable[..., requests.Response], *,
                 reload: Callable[[], Credentials] | None = None):
        self.registry = registry
        self._credentials = credentials
        # The transport's fetch_token: its TLS settings; credentials bound to the realm.
        self._fetch = fetch
        self._reload = reload  # re-reads Docker's config; None for credentials given in code
        self._reloaded_at = -math.inf
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._last_token: _Token | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Authenticator({self.registry!r}, scheme={self.scheme!r})"

    @property
    def scheme(self) -> str | None:
        return self._challenge.scheme if self._challenge else None

    @property
    def has_credentials(self) -> bool:
        """True when requests go out as a user (a 401 then means a refusal, not "log in")."""
        return self._credentials is not None and not self._credentials.is_anonymous

    @property
    def service(self) -> str | None:
        """The ``service`` of the registry's Bearer challenge, once one was answered (Harbor
        names itself ``harbor-registry`` there: ``vendors`` reads it, at no request)."""
        return self._challenge.params.get("service") if self._challenge else None

    @property
    def credentials(self) -> Credentials | None:
        """The credentials in use (in memory only), for a vendor API on the same account."""
        return self._credentials

    def describe(self) -> str:
        """Which credentials go out, and where they came from, for messages (no secret)."""
        creds = self._credentials
        if creds is None or creds.is_anonymous:
            return "anonymous requests"
        what = (f"the identity token of user {creds.username!r}" if creds.identity_token and
                creds.username else "the identity token" if creds.identity_token
                else f"the credentials for user {creds.username!r}")
        where = f" from {creds.source}" if creds.source else ""
        return what + where + self._skew_note()

    def _skew_note(self) -> str:
        token = self._last_token
        if token is None or token.expired_by is None or token.expired_by <= 0:
            return ""
        return (f" (the token its token server issued had already expired when it arrived, "
                f"{token.expired_by:.0f} s past its expiry by this machine's clock: the token "
                "server's clock, the registry's or this machine's is wrong; fix the clocks, "
                "e.g. with NTP)")

    def reload_credentials(self, *, now: bool = False) -> bool:
        """Re-read Docker's config (and its credential helpers): after a refusal at most once
        per ``RELOAD_INTERVAL`` (automatic retries must not hammer a credential helper), or at
        once when ``now`` (the user pressed Refresh or asked for a push right after
        ``docker login``). True when that found other credentials, now in use."""
        if self._reload is None:
            return False
        with self._lock:
            if not now and time.monotonic() - self._reloaded_at < RELOAD_INTERVAL:
                return False
            self._reloaded_at = time.monotonic()
        fresh = self._reload()
        with self._lock:
            if fresh == self._credentials:
                return False
            log.debug("credentials for %s changed in Docker's config; using them", self.registry)
            self._credentials = fresh
            self._tokens.clear()
        return True

    def learn(self, challenge: Challenge) -> None:
        """Remember how this registry wants to be asked (from a 401)."""
        if challenge.scheme not in ("basic", "bearer"):
            raise ProtocolError(f"registry {self.registry} asks for unsupported auth scheme "
                                f"{challenge.scheme!r}", registry=self.registry)
        self._challenge = challenge

    def header(self, scopes: tuple[str, ...], reference: str = "") -> dict[str, str]:
        """The Authorization header for these scopes; empty before any challenge.

        ``reference`` only names what was being done in a token server's refusal."""
        if self._challenge is None:
            return {}
        if self._challenge.scheme == "basic":
            basic = self._credentials.basic_auth() if self._credentials else None
            if not basic:
                return {}
            return {"Authorization": requests.auth._basic_auth_str(*basic)}
        token = self._token(scopes, reference)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def invalidate(self, scopes: tuple[str, ...]) -> None:
        """Forget a token the registry refused (expired early or revoked)."""
        with self._lock:
            self._tokens.pop(scopes, None)

    def _token(self, scopes: tuple[str, ...], reference: str = "") -> str | None:
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached and cached.fresh():
                return cached.value
        token = self._request_token(scopes, reference)
        with self._lock:
            self._tokens[scopes] = token
            self._last_token = token
        return token.value

    def _request_token(self, scopes: tuple[str, ...], reference: str = "") -> _Token:
        assert self._challenge is not None
        realm = self._challenge.realm
        if not realm:
            raise ProtocolError(f"registry {self.registry} sent a Bearer challenge without a realm",
                                registry=self.registry)
        service = self._challenge.params.get("service")
        creds = self._credentials
        try:
            if creds and creds.identity_token:
                # docker login's identity tokens are OAuth2 refresh tokens (docker/cli).
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                        "client_id": "registry-widgets", "scope": " ".join(scopes)}
                if service:
                    form["service"] = service
                response = self._fetch("POST", realm, data=form, reference=reference)
            else:
                params: list[tuple[str, str]] = [("service", service)] if service else []
                params += [("scope", s) for s in scopes]
                basic = creds.basic_auth() if creds else None
                response = self._fetch("GET", realm, params=params, reference=reference,
                                       authorization=requests.auth._basic_auth_str(*basic)
                                       if basic else None)
        except RegistryError:
            raise
        except requests.exceptions.SSLError as e:
            raise Unreachable(f"TLS verification failed for token server {realm} of registry "
                              f"{self.registry}: if it uses a private CA, pass ca_bundle= with "
                              "that CA's certificate", registry=self.registry) from e
        except requests.RequestException as e:
            raise Unreachable(f"token server {realm.split('?')[0]} for registry {self.registry} "
                              f"did not answer ({type(e).__name__}); check the network",
                              registry=self.registry) from None
        if response.status_code in (401, 403):
            source = f" (from {creds.source})" if creds and creds.source else ""
            who = ("with the identity token `docker login` stored"
                   if creds and creds.identity_token
                   else f"as {creds.username!r}" if creds and creds.username else "anonymously")
            what = f" for {reference}" if reference else ""
            hint = (LOGIN_HINT if creds is None or creds.is_anonymous else
                    "Check the user name and password (or token): run `docker login {registry}` "
                    "again, or pass the right ones with configure().")
            raise Unauthorized(f"the token server of {self.registry} refused to log in "
                               f"{who}{source}{what}. " + hint.format(registry=self.registry),
                               registry=self.registry, reference=reference or None,
                               status=response.status_code)
        if response.status_code != 200:
            raise ProtocolError(f"token server {realm} for registry {self.registry} answered "
                                f"HTTP {response.status_code}", registry=self.registry,
                                status=response.status_code)
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            raise ProtocolError(f"token server {realm} for registry {self.registry} answered "
                                "something that is not a token (JSON expected)",
                                registry=self.registry) from None
        lifetime = _lifetime(body.get("expires_in"))
        if value is not None and not isinstance(value, str):
            value = None
        if not value:
            raise ProtocolError(f"token server {realm} answered without a token",
                                registry=self.registry)
        log.debug("token for %s scopes %s, %.0f s", self.registry, scopes, lifetime)
        return _Token.issued(value, lifetime)


def _lifetime(expires_in: object) -> float:
    """``expires_in`` in seconds; a missing, malformed or non-positive one means the 60 s
    distribution documents (a token server's typo must not fail every request)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float, str)):
        return DEFAULT_TOKEN_LIFETIME
    try:
        value = float(expires_in)
    except ValueError:
        return DEFAULT_TOKEN_LIFETIME
    return value if math.isfinite(value) and value > 0 else DEFAULT_TOKEN_LIFETIME


def _expired_by(token: str) -> float | None:
    """Seconds past ``exp`` + leeway by this machine's clock, for a JWT token; else None.
    Read only to explain a refusal (clock skew): the signature is the registry's to check."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (binascii.Error, ValueError, AttributeError, UnicodeDecodeError):
        return None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return time.time() - (exp + LEEWAY)
