"""Docker Hub: a repository's tags with their digests, 100 a page, and the pull rate limit.

``GET https://hub.docker.com/v2/namespaces/{namespace}/repositories/{repository}/tags
?page_size=100`` (Docker Hub API reference, https://docs.docker.com/reference/api/hub/
latest/operations/ListRepositoryTags/; 10 a page by default, 100 at most): ``{"count",
"next", "previous", "results": [{"name", "digest", "media_type", "full_size",
"last_updated", "tag_last_pushed", "images": [...]}]}``, ``next`` the following page's URL
or null. Public
repositories answer anonymously; private ones after ``POST /v2/users/login`` with the
account's username and password or access token (``{"token": ...}``, a Bearer token).

The registry (``registry-1.docker.io``) answers manifest requests with ``ratelimit-limit``
and ``ratelimit-remaining`` (``100;w=21600``: pulls per window of seconds; Docker's "Docker
Hub pull usage and limits", https://docs.docker.com/docker-hub/usage/pulls/). They are
read off every answer the registry's client gets: :func:`pulls_left`.
"""

from __future__ import annotations

import re
import threading
import weakref
from typing import Any
from urllib.parse import quote

from ..reference import registry_identity
from ..registry import RegistryClient
from .pages import Refused, follow, log

PAGE_SIZE = 100  # Docker Hub's largest page_size
_WINDOW = re.compile(r"^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?")
_lock = threading.Lock()
_limits: dict[str, dict[str, int | None]] = {}  # registry identity -> last seen figures
_watched: weakref.WeakSet[Any] = weakref.WeakSet()  # the transports whose answers are read


def _figures(value: str | None) -> tuple[int, int | None] | None:
    match = _WINDOW.match(value or "")
    return (int(match.group(1)), int(match.group(2)) if match.group(2) else None) \
        if match else None


def watch_rate_limit(client: RegistryClient) -> None:
    """Read the ``ratelimit-*`` headers off every answer ``client`` gets from now on."""
    transport = client.transport
    identity = registry_identity(client.registry)
    with _lock:
        if transport in _watched:
            return
        _watched.add(transport)

    def note(response: Any, *args: Any, **kwargs: Any) -> None:
        limit = _figures(response.headers.get("ratelimit-limit"))
        remaining = _figures(response.headers.get("ratelimit-remaining"))
        if limit and remaining:
            with _lock:
                _limits[identity] = {"remaining": remaining[0], "limit": limit[0],
                                     "window": limit[1] or remaining[1]}

    transport.session.hooks.setdefault("response", []).append(note)


def rate_limit(registry: str) -> dict[str, int | None] | None:
    """``{"remaining", "limit", "window"}`` (pulls, pulls, seconds) as the registry last
    said, or None when it has not said (no manifest request yet, or no limit)."""
    with _lock:
        figures = _limits.get(registry_identity(registry))
    return dict(figures) if figures else None


def pulls_left(registry: str) -> str | None:
    """``"76 of 100 pulls left (per 6 h)"`` as the registry last said, or None."""
    figures = rate_limit(registry)
    if figures is None:
        return None
    window = figures["window"]
    per = "" if not window else f" (per {window // 3600} h)" if window % 3600 == 0 \
        else f" (per {window} s)"
    return f"{figures['remaining']} of {figures['limit']} pulls left{per}"


class DockerHubListing:
    kind = "dockerhub"

    def __init__(self, client: RegistryClient, base: str):
        self.client = client
        self.base = base.rstrip("/")
        self.requests = 0
        self._token: dict[str, str] | None = None
        self._lock = threading.Lock()
        self.details: dict[str, dict[str, Any]] = {}  # digest -> {"pushed": ...}

    def _login(self) -> dict[str, str] | None:
        """A Hub API token for the registry's account (None when anonymous or refused)."""
        creds = self.client.transport.auth.credentials
        if creds is None or not creds.username or not creds.password:
            return None
        with self._lock:
            if self._token is None:
                try:
                    response = self.client.transport.send(
                        "POST", self.base + "/v2/users/login", origin=self.base,
                        json={"username": creds.username, "password": creds.password},
                        reference="Docker Hub login")
                    token = response.json().get("token") if response.status_code == 200 \
                        else None
                except (ValueError, AttributeError, OSError):
                    token = None
                self._token = {"Authorization": f"Bearer {token}"} if token else {}
            return self._token or None

    def _pages(self, url: str, what: str, credentials: dict[str, str] | None) -> Any:
        return follow(self.client, url, credentials=credentials, origin=self.base, what=what,
                      next_of=lambda data, _: data.get("next") if isinstance(data, dict)
                      else None)

    def repositories(self, namespace: str) -> list[str] | None:
        """``GET /v2/namespaces/{namespace}/repositories?page_size=100``: ``{"next",
        "results": [{"name", "namespace", ...}]}`` (HUB API reference, ListRepositories)."""
        url = (f"{self.base}/v2/namespaces/{quote(namespace, safe='')}/repositories"
               f"?page_size={PAGE_SIZE}")
        what = f"Docker Hub repositories of {namespace}"
        # Logged in where the registry login allows, so private repositories are listed too.
        credentials = self._login()
        names: list[str] = []
        try:
            for page in self._pages(url, what, credentials):
                results = page.get("results") if isinstance(page, dict) else None
                if not isinstance(results, list):
                    raise Refused(f"{what}: no results")
                names += [f"{namespace}/{r['name']}" for r in results
                          if isinstance(r, dict) and isinstance(r.get("name"), str)]
        except Refused as e:
            log.info("%s: %s; asking the catalog", self.client.registry, e)
            return None
        return sorted(set(names))

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        namespace, _, name = repository.partition("/")
        if not name or "/" in name:  # Docker Hub's repositories are namespace/name
            return None
        url = (f"{self.base}/v2/namespaces/{quote(namespace, safe='')}/repositories/"
               f"{quote(name, safe='')}/tags?page_size={PAGE_SIZE}")
        what = f"Docker Hub tags of {repository}"
        for credentials in (None, "login"):
            if credentials == "login":
                credentials = self._login()
                if credentials is None:
                    return None
            try:
                return self._read(url, what, credentials)
            except Refused as e:
                log.info("%s: %s", self.client.registry, e)
        log.info("%s: listing %s through the OCI API", self.client.registry, repository)
        return None

    def _read(self, url: str, what: str, credentials: dict[str, str] | None) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in self._pages(url, what, credentials):
            self.requests += 1
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise Refused(f"{what}: no results")
            for tag in results:
                name = tag.get("name") if isinstance(tag, dict) else None
                digest = tag.get("digest") if isinstance(tag, dict) else None
                if not isinstance(name, str) or not isinstance(digest, str) or \
                        not digest.startswith("sha256:"):
                    raise Refused(f"{what}: a tag without its digest")
                found[name] = digest
                if tag.get("tag_last_pushed"):
                    self.details[digest] = {"pushed": str(tag["tag_last_pushed"])}
        return found
