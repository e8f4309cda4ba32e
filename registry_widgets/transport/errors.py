"""Where an HTTP failure becomes this package's exception: ``error_for`` and its helpers.

Part of ``transport``: imports ``errors`` (the exception classes, not this module) and
``transport.auth`` (to read a challenge). ``error_for`` is the one place a failed response
becomes an exception; ``Transport`` adds the connection, TLS and other-origin cases. Also
here: ``parse_retry_after`` and ``_shown``, which writes a URL into a message without its
query or user:password.
"""

from __future__ import annotations

import email.utils
import time
from urllib.parse import urlsplit

import requests

from ..errors import (LOGIN_HINT, DeleteDisabled, Denied, DigestMismatch, NotFound,
                      ProtocolError, RateLimited, RegistryError, Unauthorized)
from .auth import parse_challenge


def _shown(url: str) -> str:
    """A URL for a message: no query (signed object-storage URLs carry a signature there)
    and no user:password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    path = parts.path if len(parts.path) <= 120 else parts.path[:120] + "..."
    return f"{parts.scheme}://{host}{port}{path}"


def _body_hint(response: requests.Response) -> str:
    text = response.content[:100].decode("ascii", "replace").strip()
    return f"it said {text[:80]!r}" if text else "no body"


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
              method: str = "GET", authenticated: bool = False, who: str = "") -> RegistryError:
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
    if status == 401 and authenticated:
        # Not "log in first": the user did, and these credentials were refused. Say which.
        return Unauthorized(f"unauthorized: {registry} refused {who or 'the credentials'} for "
                            f"{what}{said}. Check the user name and password (or token): run "
                            f"`docker login {registry}` again, or configure({registry!r}, "
                            "credentials=...) with the right ones", **kw)
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
