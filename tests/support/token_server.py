"""A small Docker-style token server for distribution's ``auth: token`` (test tooling).

Implements the two flows real clients use (docker/distribution docs/spec/auth/token.md and
oauth.md): ``GET realm?service=..&scope=..`` with optional basic credentials, and ``POST realm``
with ``grant_type=password`` or ``grant_type=refresh_token`` (identity tokens, what
``docker login`` stores as ``identitytoken``). Tokens are RS256 JWTs whose ``x5c`` header carries
the self-signed signing certificate the registry trusts through ``rootcertbundle``.

Grants: ``{user: {glob: [actions]}}``; a glob matches repository names (fnmatch), a key
``registry:<glob>`` matches registry-type resources (the catalog needs ``registry:catalog`` with
``*``). Requested scopes that are not granted are dropped from ``access``, as real servers do;
the registry then answers 401/403.

Runs in a daemon thread of the test process. Imports only the stdlib, PyJWT, cryptography and
``devstack.tls`` (certificate generation), never the library under test.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
import hmac
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devstack.tls import make_server_tls, make_signing_cert

# distribution registry/auth/token/token.go: `Leeway = 60 * time.Second`, added to both the exp
# and the nbf checks. A token is refused only once now > exp + 60 s.
LEEWAY = 60
# expire_next() tokens expire this far beyond the leeway, so clock jitter cannot rescue them.
_EXPIRED_MARGIN = 30

DEFAULT_SERVICE = "registry-widgets"
DEFAULT_ISSUER = "registry-widgets-token-server"

Grants = dict[str, dict[str, list[str]]]


class TokenRequest(NamedTuple):
    """One issued token: ``user`` is None for anonymous; ``scopes`` as the client sent them."""
    method: str
    user: str | None
    scopes: tuple[str, ...]


class _AuthError(Exception):
    pass


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:ns/app:pull,push`` -> (type, name, actions); names may hold ':' (ports)."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    kind = kind.split("(", 1)[0]  # "repository(plugin)" carries a class we ignore
    return kind, name, [a for a in actions.split(",") if a]


def granted_actions(rules: dict[str, list[str]], kind: str, name: str,
                    wanted: list[str]) -> list[str]:
    allowed: set[str] = set()
    for key, actions in rules.items():
        key_kind, glob = ("registry", key[9:]) if key.startswith("registry:") else ("repository", key)
        if key_kind == kind and fnmatch.fnmatchcase(name, glob):
            allowed.update(actions)
    if "*" in allowed:
        return list(wanted)
    return [a for a in wanted if a in allowed]


class TokenServer:
    """Token server in a daemon thread of this process, with knobs for tests.

    ``users``/``grants``/``anonymous`` are plain dicts; tests may mutate them while it runs.
    """

    def __init__(self, *, users: dict[str, str] | None = None, grants: Grants | None = None,
                 anonymous: dict[str, list[str]] | None = None, state_dir: Path,
                 port: int = 0, service: str = DEFAULT_SERVICE, issuer: str = DEFAULT_ISSUER,
                 lifetime: int = 300, log_requests: bool = False, https: bool = False) -> None:
        self.users = dict(users or {})
        self.grants: Grants = {u: dict(g) for u, g in (grants or {}).items()}
        self.anonymous = dict(anonymous or {})
        self.identity_tokens: dict[str, str] = {}  # identity (refresh) token -> user
        self.service, self.issuer, self.lifetime = service, issuer, lifetime
        self.port = port
        self.cert_file, self.key_file = make_signing_cert(Path(state_dir))
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self._key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        self._lock = threading.Lock()
        self._log: list[TokenRequest] = []
        self._expire_next = 0
        # True: exp is back-dated by the registry's leeway, so the registry itself refuses a
        # token `lifetime` seconds after issue (a 2 s lifetime is really 2 s, not 62).
        self.strict_lifetime = False
        # (status, content type, body): every token request gets exactly this answer instead.
        self.answer: tuple[int, str, bytes] | None = None
        # https: serve the realm over TLS with a private CA (``ca_file``), as company token
        # servers behind an internal CA do.
        self.ca_file: Path | None = None
        self._tls: ssl.SSLContext | None = None
        if https:
            server_tls = make_server_tls(Path(state_dir) / "tls")
            self.ca_file = server_tls.ca_file
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(server_tls.cert_file, server_tls.key_file)
        self._log_requests = log_requests
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def start(self) -> "TokenServer":
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.daemon_threads = True
        httpd.token_server = self  # type: ignore[attr-defined]
        if self._tls is not None:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]  # keep it: a restart must come back on this port
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def is_running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> "TokenServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"TokenServer(realm={self.realm!r}, service={self.service!r}, "
                f"users={sorted(self.users)!r}, running={self.is_running()})")

    # -- knobs for tests ---------------------------------------------------------------------
    def expire_next(self, n: int = 1) -> None:
        """Issue the next *n* tokens already expired beyond the registry's leeway.

        ``expires_in`` still says ``lifetime``: the client only learns from the registry's 401,
        which is what refresh-on-401 code must handle.
        """
        with self._lock:
            self._expire_next = n

    @property
    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def issue_identity_token(self, user: str) -> str:
        """An identity (refresh) token for *user*, as ``docker login`` would have stored it."""
        token = "idt-" + secrets.token_urlsafe(24)
        with self._lock:
            self.identity_tokens[token] = user
        return token

    def token_for(self, user: str | None, scopes: list[str] | tuple[str, ...], *,
                  expires_in: int | None = None) -> str:
        """Mint a token directly (same grant rules as over HTTP), without logging it;
        ``expires_in`` sets its ``exp`` claim relative to now (negative: in the past)."""
        return self._mint(user, list(scopes), expires_in=expires_in)[0]

    # -- the work ----------------------------------------------------------------------------
    def _authenticate(self, username: str, password: str) -> str:
        expected = self.users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise _AuthError(f"wrong username or password for {username!r}")
        return username

    def _access(self, user: str | None, scopes: list[str]) -> list[dict]:
        rules = self.anonymous if user is None else self.grants.get(user, {})
        access: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            kind, name, wanted = parsed
            actions = granted_actions(rules, kind, name, wanted)
            if actions:
                merged = access.setdefault((kind, name), [])
                merged.extend(a for a in actions if a not in merged)
        return [{"type": k, "name": n, "actions": a} for (k, n), a in access.items()]

    def _mint(self, user: str | None, scopes: list[str], *,
              expires_in: int | None = None) -> tuple[str, int]:
        with self._lock:
            expired = self._expire_next > 0
            self._expire_next -= expired
        now = int(time.time())
        if expires_in is None:
            expires_in = self.lifetime - (LEEWAY if self.strict_lifetime else 0)
        exp = now - LEEWAY - _EXPIRED_MARGIN if expired else now + expires_in
        claims = {
            "iss": self.issuer, "sub": user or "", "aud": self.service,
            "exp": exp, "nbf": min(now, exp) - 10, "iat": min(now, exp) - 10,
            "jti": secrets.token_hex(16), "access": self._access(user, scopes),
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": self._x5c})
        return token, now

    def _issue(self, method: str, user: str | None, scopes: list[str], *, refresh: bool) -> dict:
        token, now = self._mint(user, scopes)
        with self._lock:
            self._log.append(TokenRequest(method, user, tuple(scopes)))
        body = {"token": token, "access_token": token, "expires_in": self.lifetime,
                "issued_at": dt.datetime.fromtimestamp(now, dt.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ")}
        if refresh and user is not None:
            body["refresh_token"] = self.issue_identity_token(user)
        return body


class _Handler(BaseHTTPRequestHandler):
    server_version = "registry-widgets-token-server"

    @property
    def ts(self) -> TokenServer:
        return self.server.token_server  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:
        # The query string holds scopes only (credentials travel in headers or the POST body).
        if self.ts._log_requests:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _unauthorized(self, message: str) -> None:
        self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}],
                          "error": "invalid_grant", "error_description": message},
                    {"WWW-Authenticate": f'Basic realm="{self.ts.realm}"'})

    def _check_path_and_service(self, service: str | None) -> bool:
        if urllib.parse.urlsplit(self.path).path.rstrip("/") != "/token":
            self._reply(404, {"error": "not_found"})
            return False
        if service is not None and service != self.ts.service:
            self._reply(400, {"error": "invalid_request",
                              "error_description": f"unknown service {service!r}"})
            return False
        return True

    def _fixed_answer(self) -> bool:
        if self.ts.answer is None:
            return False
        status, content_type, data = self.ts.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def do_GET(self) -> None:
        if self._fixed_answer():
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if not self._check_path_and_service(query.get("service", [None])[0]):
            return
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        user = None
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                username, _, password = base64.b64decode(header[6:]).decode().partition(":")
                user = self.ts._authenticate(username, password)
            except (_AuthError, binascii.Error, UnicodeDecodeError) as e:
                return self._unauthorized(str(e))
        offline = query.get("offline_token", ["false"])[0].lower() == "true"
        self._reply(200, self.ts._issue("GET", user, scopes, refresh=offline))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors="replace"))
        if self._fixed_answer():
            return
        field = lambda k: form.get(k, [None])[0]  # noqa: E731
        if not self._check_path_and_service(field("service")):
            return
        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        grant_type = field("grant_type")
        try:
            if grant_type == "password":
                user = self.ts._authenticate(field("username") or "", field("password") or "")
                refresh = field("access_type") == "offline"
            elif grant_type == "refresh_token":
                user = self.ts.identity_tokens.get(field("refresh_token") or "")
                if user is None:
                    raise _AuthError("unknown or revoked refresh token")
                refresh = False
            else:
                return self._reply(400, {"error": "unsupported_grant_type"})
        except _AuthError as e:
            return self._unauthorized(str(e))
        self._reply(200, self.ts._issue("POST", user, scopes, refresh=refresh))
