"""Registry credentials, found where `docker login` left them.

Layer 2, beside the HTTP client (``registry``) and the engine layer (``engine``): both turn
whatever a caller passed into a :class:`Credentials` through :func:`credentials_from`, so
there is one place that reads Docker's config and runs credential helpers. Imports only the
standard library, ``errors`` and ``paths``; a registry is a plain host string
(``myreg:5000``, ``docker.io``); URLs such as ``https://myreg:5000/v2/`` are accepted too.

Lookup, as Docker does it (REGISTRY-NOTES, "Credentials as docker login leaves them"):
``<config_dir>/config.json``, else ``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``; in it ``credHelpers[host]``, else ``credsStore``, names a helper
``docker-credential-<name>`` that is run as ``get`` with the server URL on stdin; when it has
nothing for the host (or no helper is configured), the ``auths`` entry for the host is used.

Secrets never reach a repr, a log record or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import paths
from .errors import Unauthorized

__all__ = ["Credentials", "credentials_for", "credentials_from", "docker_auth_config"]

log = logging.getLogger(__name__)

# Docker Hub's credentials are stored under its v1 index URL, whatever name the image used.
HUB_SERVER = "https://index.docker.io/v1/"
# Only these name Docker Hub when credentials are looked up (moby normalizeIndexName,
# docker-py resolve_index_name); registry-1.docker.io is a registry of its own there.
HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})
# A helper answering this Username holds an identity (refresh) token in Secret
# (docker/cli cli/config/credentials/native_store.go).
TOKEN_USERNAME = "<token>"
HELPER_PREFIX = "docker-credential-"
GIVEN_IN_CODE = "configure() / credentials= in code"
# Helpers may call a cloud API (ecr-login, gcloud); none should take longer than this.
HELPER_TIMEOUT = 60.0
# What helpers print for "nothing stored": docker-credential-helpers credentials/error.go,
# and wincred/pass variants that docker-py also recognises (docker/credentials/errors.py).
_NOT_FOUND_MARKERS = ("credentials not found in native keychain", "no stored credential for")

# Keys of Docker's AuthConfig, accepted in a dict passed to credentials_from.
_DICT_KEYS = frozenset({"username", "password", "auth", "identitytoken", "identity_token",
                        "email", "serveraddress"})


@dataclass(frozen=True, repr=False)
class Credentials:
    """Username and password, or an identity token, for one registry.

    ``identity_token`` is a refresh token for the registry's Bearer token endpoint (what
    ``docker login`` keeps for identity-token logins); it replaces the password. The repr
    shows the username only: ``Credentials(username='alice', password=<hidden>)``.
    """

    username: str | None = None
    password: str | None = None
    identity_token: str | None = None
    # Where they came from, for messages when a registry refuses them ("~/.docker/config.json
    # (credHelpers['r.io']: docker-credential-pass)"). Not part of equality.
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("username", "password", "identity_token", "source"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Credentials.{name} must be a str or None, "
                                f"not {type(value).__name__}")

    @classmethod
    def anonymous(cls) -> Credentials:
        """No credentials: requests go out without authentication."""
        return cls()

    @property
    def is_anonymous(self) -> bool:
        """True when there is neither a username with a password nor an identity token."""
        return self.identity_token is None and self.basic_auth() is None

    def basic_auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for HTTP Basic auth, or None when there is no password."""
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def __repr__(self) -> str:
        shown = []
        if self.username is not None:
            shown.append(f"username={self.username!r}")
        if self.password is not None:
            shown.append("password=<hidden>")
        if self.identity_token is not None:
            shown.append("identity_token=<hidden>")
        return f"Credentials({', '.join(shown) or '<anonymous>'})"

    __str__ = __repr__


def credentials_for(registry: str, *, config_dir: str | Path | None = None) -> Credentials | None:
    """The credentials `docker login` stored for ``registry``, or None when there are none.

    Similar to what ``docker pull`` does before it talks to a registry. ``config_dir``
    replaces ``$DOCKER_CONFIG`` and ``~/.docker``. Raises :class:`Unauthorized` when the
    config file is malformed or its credential helper is missing or fails.
    """
    host = _host(registry)
    path = paths.docker_config_file(config_dir)
    config = _read_config(path, host)

    helper = _configured_helper(config, host, path)
    if helper is not None:
        name, source = helper
        creds = _run_helper(name, source, host, path)
        if creds is not None:
            log.debug("credentials for %s from %s %r", host, source, name)
            return replace(creds, source=f"{_shown(path)} ({source}: {HELPER_PREFIX}{name})")
        # docker-py falls back to `auths` here; the docker CLI would send nothing.
        log.debug("%s %r has no credentials for %s; looking in auths", source, name, host)

    creds = _from_auths(config, host, path)
    if creds is not None:
        log.debug("credentials for %s from auths in %s", host, path)
    else:
        log.debug("no credentials for %s in %s", host, path)
    return creds


def credentials_from(value: Any, registry: str, *,
                     config_dir: str | Path | None = None) -> Credentials:
    """Normalise what a caller passed as credentials for ``registry``.

    ``None`` looks them up with :func:`credentials_for` (anonymous when nothing is stored);
    a :class:`Credentials` is returned as is; a ``(username, password)`` pair or a dict in
    Docker's ``auth_config`` form (``username``/``password``, ``identitytoken``, ``auth``)
    is converted. Anything else raises TypeError or ValueError (never showing the value).
    """
    if value is None:
        return credentials_for(registry, config_dir=config_dir) or Credentials.anonymous()
    if isinstance(value, Credentials):
        return value if value.source else replace(value, source=GIVEN_IN_CODE)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise TypeError(f"credentials as a sequence must be (username, password), "
                            f"got {len(value)} items")
        return Credentials(username=value[0], password=value[1], source=GIVEN_IN_CODE)
    if isinstance(value, dict):
        unknown = sorted(str(key) for key in value if key not in _DICT_KEYS)
        if unknown:
            raise ValueError(f"unexpected key(s) {', '.join(map(repr, unknown))} in credentials "
                             f"for {registry}; use 'username' and 'password', or 'identitytoken'")
        entry = dict(value)
        if "identity_token" in entry:
            entry["identitytoken"] = entry.pop("identity_token")
        return replace(_parse_entry(entry), source=GIVEN_IN_CODE)
    raise TypeError("credentials must be None, Credentials, (username, password) or a dict, "
                    f"not {type(value).__name__}")


def docker_auth_config(creds: Credentials | None) -> dict[str, str] | None:
    """The ``auth_config`` dict the Docker SDK takes for push and pull; None when anonymous."""
    if creds is None or creds.is_anonymous:
        return None
    if creds.identity_token is not None:
        return {"identitytoken": creds.identity_token}
    username, password = creds.basic_auth()  # type: ignore[misc]  # not anonymous
    return {"username": username, "password": password}


# --- registry names ------------------------------------------------------------------------

def _host(registry: str) -> str:
    """host[:port] of a registry name or config key as Docker compares them: scheme and path
    dropped, ``index.docker.io`` read as ``docker.io``, case kept (moby ResolveAuthConfig
    with ConvertToHostname; docker-py resolve_authconfig, which the tests consult). So the
    credentials used are the ones ``docker pull`` would use, no more."""
    if not isinstance(registry, str) or not registry.strip():
        raise ValueError(f"a registry host is required, got {registry!r}")
    rest = registry.strip().split("://", 1)[-1]
    host = rest.split("/", 1)[0].rpartition("@")[2]  # never a user:password@
    return "docker.io" if host in HUB_ALIASES else host


def _server_url(host: str) -> str:
    """The key `docker login` stores the host's credentials under."""
    return HUB_SERVER if host == "docker.io" else host


def _find(mapping: dict[str, Any], host: str) -> tuple[str, Any] | None:
    """The entry for ``host``: the key docker writes first, then any key for the same host."""
    for key in (_server_url(host), host):
        if key in mapping:
            return key, mapping[key]
    for key, value in mapping.items():
        if isinstance(key, str) and key.strip() and _host(key) == host:
            return key, value
    return None


# --- config.json ---------------------------------------------------------------------------

def _config_error(path: Path, host: str, problem: str) -> Unauthorized:
    return Unauthorized(
        f"Cannot read credentials for {host} from the Docker config file {path}: {problem}. "
        f"Fix the file, or move it aside and run `docker login {host}` again.",
        registry=host)


def _read_config(path: Path, host: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise _config_error(path, host, e.strerror or type(e).__name__) from e
    except UnicodeDecodeError as e:
        raise _config_error(path, host, "it is not UTF-8 text") from e
    if not text.strip():  # docker treats an empty file as an empty config
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:  # its message names a position, never the content
        raise _config_error(path, host, f"it is not valid JSON ({e.msg} at line {e.lineno}, "
                                        f"column {e.colno})") from e
    if not isinstance(config, dict):
        raise _config_error(path, host, "its top level is not a JSON object")
    for section in ("auths", "credHelpers"):
        if not isinstance(config.get(section, {}), (dict, type(None))):
            raise _config_error(path, host, f"'{section}' is not a JSON object")
    if not isinstance(config.get("credsStore", ""), (str, type(None))):
        raise _config_error(path, host, "'credsStore' is not a string")
    return config


def _shown(path: Path) -> str:
    """A config path for messages, the home directory as '~'."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _from_auths(config: dict[str, Any], host: str, path: Path) -> Credentials | None:
    found = _find(config.get("auths") or {}, host)
    if found is None:
        return None
    key, entry = found
    if not isinstance(entry, dict):
        raise _config_error(path, host, f"auths[{key!r}] is not a JSON object")
    try:
        creds = _parse_entry(entry)
    except (TypeError, ValueError) as e:
        raise _config_error(path, host, f"auths[{key!r}]: {e}") from e
    # An empty entry is what `docker login` leaves beside a credsStore: nothing to use.
    return None if creds.is_anonymous else replace(creds, source=f"{_shown(path)} (auths[{key!r}])")


def _parse_entry(entry: dict[str, Any]) -> Credentials:
    """Credentials from an ``auths`` entry or an ``auth_config`` dict; error messages name
    fields, never values."""
    for field in ("auth", "username", "password", "identitytoken"):
        if entry.get(field) is not None and not isinstance(entry[field], str):
            raise TypeError(f"'{field}' is not a string")
    username, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):  # as docker/cli LoadFromReader: `auth` wins over the plain fields
        username, password = _decode_auth(entry["auth"])
    token = entry.get("identitytoken") or None
    if token is not None:
        # The token replaces the password (docker-py parse_auth); the username may stay.
        return Credentials(username=username or None, identity_token=token)
    return Credentials(username=username, password=password)


def _decode_auth(auth: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise ValueError("'auth' is not the base64 of 'username:password'")
    return username, password.strip("\x00")  # docker/cli decodeAuth trims NULs too


# --- credential helpers --------------------------------------------------------------------

def _configured_helper(config: dict[str, Any], host: str, path: Path) -> tuple[str, str] | None:
    """(helper name, config section naming it): credHelpers for the host, else credsStore."""
    found = _find(config.get("credHelpers") or {}, host)
    if found is not None:
        name, source = found[1], f"credHelpers[{found[0]!r}]"
    elif config.get("credsStore"):
        name, source = config["credsStore"], "credsStore"
    else:
        return None
    if not isinstance(name, str) or not name or "/" in name or os.sep in name:
        raise _config_error(path, host, f"{source} is not a credential helper name")
    return name, source


def _run_helper(name: str, source: str, host: str, path: Path) -> Credentials | None:
    """Run ``docker-credential-<name> get``; None when it stores nothing for the host.

    Errors name the helper, the registry and the exit code, never the helper's output: it
    may hold the secret.
    """
    program = HELPER_PREFIX + name
    server_url = _server_url(host)

    def failure(problem: str, hint: str) -> Unauthorized:
        return Unauthorized(
            f"Cannot get credentials for {host}: the credential helper {program} (set as "
            f"{source} in {path}) {problem}. {hint}, or remove it from {path}.", registry=host)

    check = (f"Check that `echo {server_url} | {program} get` works in a terminal (the store "
             f"may need unlocking, or a new `docker login {host}`)")
    exe = shutil.which(program)
    if exe is None:
        raise failure("is not installed or not on PATH", f"Install {program}")
    done = _call_helper(exe, server_url)
    if isinstance(done, str):
        raise failure(done, check)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).decode("utf-8", "replace").lower()
        if any(marker in said for marker in _NOT_FOUND_MARKERS):
            return None
        raise failure(f"failed with exit code {done.returncode}", check)

    answer = _json_object(done.stdout) or {}
    username, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise failure("answered something other than JSON with string 'Username' and "
                      "'Secret'", f"Check that {program} is a Docker credential helper")
    if not username and not secret:  # docker-credential-pass's answer for "not stored"
        return None
    if username == TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username=username, password=secret)


# The two functions below return instead of raising, so that no exception holding the
# helper's output (TimeoutExpired.output, JSONDecodeError.doc) is chained to the error the
# caller sees.

def _call_helper(exe: str, server_url: str) -> subprocess.CompletedProcess[bytes] | str:
    """The finished ``get``, or why it did not finish."""
    try:
        return subprocess.run([exe, "get"], input=server_url.encode("utf-8"),
                              capture_output=True, timeout=HELPER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"did not answer within {HELPER_TIMEOUT:g} s"
    except OSError as e:
        return f"could not run ({e.strerror or type(e).__name__})"


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
