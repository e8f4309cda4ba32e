"""A deliberately tiny registry HTTP client: the tests' independent oracle.

It shares no code with the package's own registry client on purpose, so a bug there cannot
hide itself in the tests. It handles what the local stack needs: anonymous, basic (with the
stack's CA file) and token auth (follow a ``Bearer`` challenge once per scope, as
docs/spec/auth/token.md describes).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import TYPE_CHECKING, NamedTuple

import requests

if TYPE_CHECKING:
    from devstack import LocalRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT_ALL = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Manifest(NamedTuple):
    data: bytes
    media_type: str
    digest: str


class RawClient:
    """HTTP against one ``LocalRegistry`` as one user (default: the registry's own user)."""

    def __init__(self, registry: "LocalRegistry", *, username: str | None = None,
                 password: str | None = None, anonymous: bool = False) -> None:
        self.base = registry.url
        self.session = requests.Session()
        # Loopback only: no proxies or ~/.netrc from the environment. And requests lets
        # REQUESTS_CA_BUNDLE override session.verify (psf/requests#3829), so verify goes with
        # every request instead.
        self.session.trust_env = False
        self.verify: str | bool = str(registry.ca_file) if registry.ca_file else True
        if anonymous:
            self.credentials = None
        elif username is not None:
            self.credentials = (username, password or "")
        else:
            self.credentials = registry.auth
        self._tokens: dict[str, str] = {}

    def request(self, method: str, path: str, *, scope: str | None = None,
                expect: tuple[int, ...] = (), **kwargs) -> requests.Response:
        """Send, answering one auth challenge; raise unless the status is in *expect* (if set).

        Bodies must be bytes (never streams) so the request can be replayed after a 401.
        """
        url = urllib.parse.urljoin(self.base + "/", path)
        headers = dict(kwargs.pop("headers", None) or {})
        if scope and scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        kwargs.setdefault("verify", self.verify)
        r = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
        challenge = r.headers.get("WWW-Authenticate", "")
        if r.status_code == 401 and challenge.lower().startswith("bearer "):
            headers["Authorization"] = f"Bearer {self._fetch_token(challenge, scope)}"
            r = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
        elif r.status_code == 401 and challenge.lower().startswith("basic ") and self.credentials:
            self.session.auth = self.credentials  # basic auth from now on: it is per host
            r = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
        if expect and r.status_code not in expect:
            raise RuntimeError(f"{method} {url} answered {r.status_code} (expected {expect}): "
                               f"{r.text[:300]}")
        return r

    def _fetch_token(self, challenge: str, scope: str | None) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        scopes = {s for s in (params.get("scope"), scope) if s}
        query = {"service": params.get("service", ""), "scope": sorted(scopes)}
        r = self.session.get(params["realm"], params=query, auth=self.credentials, timeout=30,
                             verify=self.verify)
        if r.status_code != 200:
            raise RuntimeError(f"token server {params['realm']} answered {r.status_code}: {r.text[:300]}")
        body = r.json()
        token = body.get("token") or body["access_token"]
        if scope:
            self._tokens[scope] = token
        return token


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def get_manifest(registry: "LocalRegistry", repository: str, reference: str, *,
                 accept: str = ACCEPT_ALL, client: RawClient | None = None) -> Manifest:
    """The manifest bytes exactly as stored, its media type and its digest (checked)."""
    client = client or RawClient(registry)
    r = client.request("GET", f"/v2/{repository}/manifests/{reference}", scope=pull_scope(repository),
                       headers={"Accept": accept}, expect=(200,))
    digest = sha256_digest(r.content)
    if reference.startswith("sha256:") and reference != digest:
        raise RuntimeError(f"manifest {repository}@{reference} has digest {digest}")
    return Manifest(r.content, r.headers.get("Content-Type", ""), digest)


def get_blob(registry: "LocalRegistry", repository: str, digest: str, *,
             client: RawClient | None = None) -> bytes:
    client = client or RawClient(registry)
    r = client.request("GET", f"/v2/{repository}/blobs/{digest}", scope=pull_scope(repository),
                       expect=(200,))
    if sha256_digest(r.content) != digest:
        raise RuntimeError(f"blob {repository}@{digest} came back with another digest")
    return r.content


def _paginate(client: RawClient, path: str, key: str, scope: str) -> list[str]:
    items: list[str] = []
    while path:
        r = client.request("GET", path, scope=scope, expect=(200,))
        items.extend(r.json().get(key) or [])
        # Link: </v2/_catalog?last=x&n=100>; rel="next"
        match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', r.headers.get("Link", ""))
        path = match.group(1) if match else ""
    return items


def list_tags(registry: "LocalRegistry", repository: str) -> list[str]:
    return _paginate(RawClient(registry), f"/v2/{repository}/tags/list", "tags",
                     pull_scope(repository))


def list_repositories(registry: "LocalRegistry") -> list[str]:
    return _paginate(RawClient(registry), "/v2/_catalog", "repositories", "registry:catalog:*")
