"""Small local servers that answer as the vendors' public API documentation says, in front
of a REAL distribution: what they answer about tags, digests and images is read from that
registry's storage (as Harbor's database and IBM's image index track what the registry
holds), and every ``/v2/`` request is forwarded to the registry itself.

- ``FakeHarbor``: Harbor v2's registry front (Bearer challenge from ``/service/token``,
  service ``harbor-registry``) and ``/api/v2.0/projects/{p}/repositories/{r}/artifacts``
  (https://goharbor.io/docs/2.10.0/build-customize-contribute/configure-swagger/; swagger:
  github.com/goharbor/harbor/blob/main/api/v2.0/swagger.yaml, ``listArtifacts``).
- ``FakeDockerHub``: the registry front adding ``ratelimit-limit``/``ratelimit-remaining``
  (https://docs.docker.com/docker-hub/usage/pulls/) and, on its own port, the Hub API's
  ``/v2/namespaces/{ns}/repositories[/{repo}/tags]`` and ``/v2/users/login``
  (https://docs.docker.com/reference/api/hub/latest/).
- ``FakeIBM``: IAM's ``/identity/token`` (https://cloud.ibm.com/docs/account?topic=
  account-iamtoken_from_apikey) and Container Registry's ``/api/v1/images``,
  ``/namespaces``, ``/quotas`` and ``/trash`` (https://cloud.ibm.com/apidocs/
  container-registry; the shapes of IBM's SDK ``ibm-container-registry`` models).

Each counts the requests it gets (``requests``: (method, path) pairs) and keeps every
header and body it was sent (``seen``), so a test can count pages and look for secrets.
Imports only the standard library, ``requests`` and ``devstack``-level helpers: never the
package under test.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import requests

MANIFEST_TYPES = {"application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.index.v1+json"}


class Storage:
    """What a distribution registry holds, read from its filesystem storage (fast even for
    ten thousand tags, and exactly what the registry itself answers from)."""

    def __init__(self, registry: Any):
        self.root = Path(registry.storage) / "docker" / "registry" / "v2"

    def repositories(self) -> list[str]:
        base = self.root / "repositories"
        if not base.is_dir():
            return []
        return sorted(str(p.parent.relative_to(base)) for p in base.rglob("_manifests"))

    def tags(self, repository: str) -> dict[str, str]:
        """``{tag: digest}``; KeyError when the repository does not exist."""
        folder = self.root / "repositories" / repository / "_manifests"
        if not folder.is_dir():
            raise KeyError(repository)
        tags = folder / "tags"
        out = {}
        for entry in tags.iterdir() if tags.is_dir() else ():
            link = entry / "current" / "link"
            if link.is_file():
                out[entry.name] = link.read_text().strip()
        return dict(sorted(out.items()))

    def blob(self, digest: str) -> bytes:
        hexa = digest.split(":", 1)[1]
        return (self.root / "blobs" / "sha256" / hexa[:2] / hexa / "data").read_bytes()

    def manifest(self, digest: str) -> dict[str, Any]:
        return json.loads(self.blob(digest))

    def config(self, digest: str) -> dict[str, Any]:
        manifest = self.manifest(digest)
        config = manifest.get("config") or {}
        try:
            return json.loads(self.blob(config["digest"])) if config else {}
        except (OSError, ValueError, KeyError):
            return {}

    def size(self, digest: str) -> int:
        """Config plus layers, summed over an index's children."""
        manifest = self.manifest(digest)
        if manifest.get("mediaType") in MANIFEST_TYPES or "manifests" in manifest:
            return sum(self.size(child["digest"]) for child in manifest.get("manifests", []))
        return (manifest.get("config") or {}).get("size", 0) + \
            sum(layer["size"] for layer in manifest.get("layers", []))


def seed_tags(registry: Any, repository: str, digest: str, names: list[str]) -> None:
    """Point ``names`` of ``repository`` at ``digest`` (a manifest already in it) by writing
    the registry's tag links, as a manifest PUT does: ten thousand tags in a second
    (distribution reads tags from this storage on every request; it caches none)."""
    base = Path(registry.storage) / "docker" / "registry" / "v2" / "repositories" / \
        repository / "_manifests" / "tags"
    hexa = digest.split(":", 1)[1]
    for name in names:
        (base / name / "current").mkdir(parents=True, exist_ok=True)
        (base / name / "current" / "link").write_text(digest)
        (base / name / "index" / "sha256" / hexa).mkdir(parents=True, exist_ok=True)
        (base / name / "index" / "sha256" / hexa / "link").write_text(digest)


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler calls ``self.handle``."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, str, bytes], None]):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.requests.append((self.command, self.path))
                    outer.seen.append(f"{self.command} {self.path}\n{self.headers}\n"
                                      f"{body.decode(errors='replace')}")
                handle(self, self.command, body)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _any

        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.seen: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()


def answer(handler: BaseHTTPRequestHandler, status: int, body: Any = b"",
           headers: dict[str, str] | None = None) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    merged = {"Content-Type": "application/json", **(headers or {})}
    for name, value in merged.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


def forward(handler: BaseHTTPRequestHandler, session: requests.Session, target: str,
            body: bytes, extra: dict[str, str] | None = None) -> requests.Response:
    """Send the request on to ``target`` (the real registry) and relay its answer, with
    ``extra`` headers added; ``Location`` headers are rewritten to come back here."""
    headers = {k: v for k, v in handler.headers.items()
               if k.lower() not in _HOP and k.lower() != "authorization"}
    upstream = session.request(handler.command, target + handler.path, headers=headers,
                               data=body or None, allow_redirects=False)
    here = f"http://{handler.headers.get('Host')}"
    out = {k: v.replace(target, here) for k, v in upstream.headers.items()
           if k.lower() not in _HOP and k.lower() != "content-encoding"}
    out.update(extra or {})
    answer(handler, upstream.status_code, upstream.content, out)
    return upstream


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


class FakeHarbor:
    """Harbor v2 in front of ``registry`` (a plain-HTTP LocalRegistry). Projects are the
    first path segment of each repository."""

    TOKEN = "harbor-token"

    def __init__(self, registry: Any, *, users: dict[str, str] | None = None):
        self.registry = registry
        self.storage = Storage(registry)
        self.users = users or {}
        self.session = _session()
        self.server = _Server(self._handle)
        self.pages_served = 0

    @property
    def host(self) -> str:
        return self.server.host

    def close(self) -> None:
        self.server.close()

    def _authorized_api(self, handler: BaseHTTPRequestHandler) -> bool:
        if not self.users:
            return True
        header = handler.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.users.get(user) == password

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        path = urlsplit(handler.path).path
        if path == "/service/token":
            answer(handler, 200, {"token": self.TOKEN, "access_token": self.TOKEN,
                                  "expires_in": 1800,
                                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")})
        elif path.startswith("/v2/"):
            if handler.headers.get("Authorization") != f"Bearer {self.TOKEN}":
                challenge = (f'Bearer realm="{self.server.url}/service/token",'
                             'service="harbor-registry"')
                answer(handler, 401, {"errors": [{"code": "UNAUTHORIZED",
                                                  "message": "unauthorized"}]},
                       {"WWW-Authenticate": challenge})
            else:
                forward(handler, self.session, self.registry.url, body)
        elif path == "/api/v2.0/systeminfo":
            answer(handler, 200, {"harbor_version": "v2.10.0-fake", "auth_mode": "db_auth"})
        elif path.startswith("/api/v2.0/projects/") and path.endswith(("/artifacts",
                                                                        "/repositories")):
            if not self._authorized_api(handler):
                answer(handler, 401, {"errors": [{"code": "UNAUTHORIZED",
                                                  "message": "unauthorized"}]})
            elif path.endswith("/artifacts"):
                self._artifacts(handler, path)
            else:
                self._repositories(handler, path)
        else:
            answer(handler, 404, {"errors": [{"code": "NOT_FOUND", "message": path}]})

    def _repositories(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        # listRepositories: [{"id", "name": "project/app", "project_id", "artifact_count",
        # "pull_count", "creation_time", "update_time"}], the next page in Link.
        project = unquote(path.split("/")[4])
        query = parse_qs(urlsplit(handler.path).query)
        size = min(int(query.get("page_size", ["10"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        names = [r for r in self.storage.repositories() if r.startswith(project + "/")]
        chunk = names[(page - 1) * size: page * size]
        headers = {"X-Total-Count": str(len(names))}
        if page * size < len(names):
            headers["Link"] = (f'</api/v2.0/projects/{project}/repositories?page_size={size}'
                               f'&page={page + 1}>; rel="next"')
        answer(handler, 200, [{"id": n, "name": name, "project_id": 1, "artifact_count":
                               len(set(self.storage.tags(name).values())), "pull_count": 0,
                               "creation_time": "2026-12-07T05:00:00.000Z",
                               "update_time": "2026-12-07T05:00:00.000Z"}
                              for n, name in enumerate(chunk)], headers)

    def _artifacts(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        # /api/v2.0/projects/{project}/repositories/{repository}/artifacts, the repository
        # encoded twice (a/b is a%252Fb): the raw path still holds %2F after one unquote.
        parts = path.split("/")
        project, encoded = unquote(parts[4]), parts[6]
        repository = f"{project}/{unquote(unquote(encoded))}"
        query = parse_qs(urlsplit(handler.path).query)
        size = min(int(query.get("page_size", ["10"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        try:
            tags = self.storage.tags(repository)
        except KeyError:
            answer(handler, 404, {"errors": [{"code": "NOT_FOUND",
                                              "message": f"repository {repository} not found"}]})
            return
        by_digest: dict[str, list[str]] = {}
        for tag, digest in tags.items():
            by_digest.setdefault(digest, []).append(tag)
        digests = sorted(by_digest)
        chunk = digests[(page - 1) * size: page * size]
        artifacts = [self._artifact(repository, digest, by_digest[digest]) for digest in chunk]
        headers = {"X-Total-Count": str(len(digests))}
        if page * size < len(digests):
            headers["Link"] = (f'</api/v2.0/projects/{parts[4]}/repositories/{encoded}/artifacts'
                               f'?with_tag=true&page_size={size}&page={page + 1}>; rel="next"')
        self.pages_served += 1
        answer(handler, 200, artifacts, headers)

    def _artifact(self, repository: str, digest: str, tags: list[str]) -> dict[str, Any]:
        manifest = self.storage.manifest(digest)
        config = self.storage.config(digest)
        pushed = "2026-12-07T05:00:00.000Z"
        return {
            "id": int(digest[7:15], 16), "type": "IMAGE", "digest": digest,
            "manifest_media_type": manifest.get("mediaType"),
            "media_type": (manifest.get("config") or {}).get("mediaType"),
            "repository_name": repository, "size": self.storage.size(digest),
            "push_time": pushed, "pull_time": "0001-01-01T00:00:00.000Z",
            "extra_attrs": {"architecture": config.get("architecture"), "os": config.get("os"),
                            "created": config.get("created"),
                            "config": config.get("config") or {}},
            "references": [{"child_digest": child["digest"], "platform": child.get("platform")}
                           for child in manifest.get("manifests", [])] or None,
            "tags": [{"name": tag, "push_time": pushed, "immutable": False, "signed": False}
                     for tag in tags],
            "scan_overview": None, "labels": None,
        }


class FakeDockerHub:
    """Docker Hub: a registry front adding the pull rate-limit headers to manifest answers
    (``remaining`` goes down by one per manifest GET, as Docker counts pulls; a HEAD is not
    a pull), and the Hub API on another port (``api``)."""

    def __init__(self, registry: Any, *, limit: int = 100, window: int = 21600,
                 users: dict[str, str] | None = None, private: set[str] = frozenset()):
        self.registry = registry
        self.storage = Storage(registry)
        self.limit, self.window, self.remaining = limit, window, limit
        self.users = users or {}
        self.private = set(private)  # namespace/name that only a logged-in user may list
        self.session = _session()
        self.front = _Server(self._registry)
        self.api = _Server(self._api)
        self.tokens: set[str] = set()

    @property
    def host(self) -> str:
        return self.front.host

    def close(self) -> None:
        self.front.close()
        self.api.close()

    def _registry(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        if urlsplit(handler.path).path == "/v2/_catalog":  # Docker Hub lists no catalog
            answer(handler, 403, {"errors": [{"code": "DENIED", "message":
                                              "requested access to the resource is denied"}]})
            return
        extra = {}
        if "/manifests/" in handler.path and method in ("GET", "HEAD"):
            if method == "GET":
                self.remaining = max(0, self.remaining - 1)
            extra = {"ratelimit-limit": f"{self.limit};w={self.window}",
                     "ratelimit-remaining": f"{self.remaining};w={self.window}",
                     "docker-ratelimit-source": "127.0.0.1"}
        forward(handler, self.session, self.registry.url, body, extra)

    def _api(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        split = urlsplit(handler.path)
        parts = split.path.strip("/").split("/")
        query = parse_qs(split.query)
        if split.path == "/v2/users/login" and method == "POST":
            given = json.loads(body or b"{}")
            if self.users.get(given.get("username")) != given.get("password"):
                answer(handler, 401, {"detail": "Incorrect authentication credentials"})
                return
            token = f"hub-{len(self.tokens)}"
            self.tokens.add(token)
            answer(handler, 200, {"token": token})
            return
        logged_in = (handler.headers.get("Authorization") or "").removeprefix("Bearer ") \
            in self.tokens
        size = min(int(query.get("page_size", ["10"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        if len(parts) == 4 and parts[:2] == ["v2", "namespaces"] and parts[3] == "repositories":
            names = [r for r in self.storage.repositories() if r.count("/") == 1
                     and r.split("/")[0] == parts[2] and (logged_in or r not in self.private)]
            items = [{"name": r.split("/")[1], "namespace": parts[2], "repository_type": "image",
                      "status": 1, "is_private": r in self.private, "star_count": 0,
                      "pull_count": 0, "last_updated": "2026-12-07T05:00:00.000000Z"}
                     for r in names]
        elif len(parts) == 6 and parts[:2] == ["v2", "namespaces"] and parts[5] == "tags":
            repository = f"{parts[2]}/{parts[4]}"
            try:
                tags = self.storage.tags(repository)
            except KeyError:
                tags = None
            if tags is None or (repository in self.private and not logged_in):
                answer(handler, 404, {"message": "httperror 404: object not found",
                                      "errinfo": {}})
                return
            items = [self._tag(name, digest) for name, digest in tags.items()]
        else:
            answer(handler, 404, {"message": "not found"})
            return
        chunk = items[(page - 1) * size: page * size]
        following = (f"{self.api.url}{split.path}?page={page + 1}&page_size={size}"
                     if page * size < len(items) else None)
        previous = f"{self.api.url}{split.path}?page={page - 1}&page_size={size}" \
            if page > 1 else None
        answer(handler, 200, {"count": len(items), "next": following, "previous": previous,
                              "results": chunk})

    def _tag(self, name: str, digest: str) -> dict[str, Any]:
        manifest = self.storage.manifest(digest)
        return {"creator": 1, "id": int(digest[7:15], 16), "images": [], "last_updated":
                "2026-12-07T05:00:00.000000Z", "last_updater": 1,
                "last_updater_username": "fake", "name": name, "repository": 1,
                "full_size": self.storage.size(digest), "v2": True, "tag_status": "active",
                "tag_last_pulled": None, "tag_last_pushed": "2026-12-07T05:00:00.000000Z",
                "media_type": manifest.get("mediaType"), "content_type": "image",
                "digest": digest}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class FakeIBM:
    """IBM Cloud IAM, Container Registry's API and the registry itself (``/v2/``
    forwarded), on one port, in front of ``registry``.
    ``namespaces`` are the account's; removing one deletes its images from the registry
    (the manifests, through the registry's own API, as IBM's service does)."""

    ACCOUNT = "0123456789abcdef0123456789abcdef"

    def __init__(self, registry: Any, *, api_key: str, namespaces: list[str] = (),
                 quota: tuple[int, int] = (512 << 20, 5 << 30),
                 usage: tuple[int, int] = (0, 0)):
        self.registry = registry
        self.storage = Storage(registry)
        self.api_key = api_key
        self.namespaces = set(namespaces)
        self.quota, self.usage = quota, usage
        self.session = _session()
        self.tokens: set[str] = set()
        self.server = _Server(self._handle)
        self.trash: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    def close(self) -> None:
        self.server.close()

    def _token(self) -> str:
        now = int(time.time())
        token = _b64({"alg": "RS256", "typ": "JWT"}) + "." + _b64(
            {"iam_id": "IBMid-fake", "iat": now, "exp": now + 3600,
             "account": {"bss": self.ACCOUNT, "valid": True},
             "jti": f"t{len(self.tokens)}"}) + ".c2lnbmF0dXJl"
        self.tokens.add(token)
        return token

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        split = urlsplit(handler.path)
        path, query = split.path, parse_qs(split.query)
        if path == "/identity/token" and method == "POST":
            form = parse_qs(body.decode())
            if form.get("grant_type") != ["urn:ibm:params:oauth:grant-type:apikey"] or \
                    form.get("apikey") != [self.api_key]:
                answer(handler, 400, {"errorCode": "BXNIM0415E",
                                      "errorMessage": "Provided API key could not be found."})
                return
            now = int(time.time())
            answer(handler, 200, {"access_token": self._token(), "refresh_token": "not-used",
                                  "token_type": "Bearer", "expires_in": 3600,
                                  "expiration": now + 3600, "scope": "ibm openid"})
            return
        if path.startswith("/v2/"):  # the registry itself, on the same host as its API
            forward(handler, self.session, self.registry.url, body)
            return
        if not path.startswith("/api/v1/"):
            answer(handler, 404, {"message": "not found"})
            return
        bearer = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            answer(handler, 401, {"code": "CRG0007E", "message": "You are not authorized."})
            return
        if handler.headers.get("Account") != self.ACCOUNT:
            answer(handler, 403, {"code": "CRG0008E", "message": "Wrong account."})
            return
        if path == "/api/v1/images" and method == "GET":
            answer(handler, 200, self._images(query.get("namespace"),
                                              query.get("repository")))
        elif path == "/api/v1/namespaces" and method == "GET":
            answer(handler, 200, sorted(self.namespaces))
        elif path.startswith("/api/v1/namespaces/") and method == "PUT":
            name = unquote(path.rsplit("/", 1)[1])
            created = name not in self.namespaces
            self.namespaces.add(name)
            answer(handler, 201 if created else 200,
                   {"namespace": name, "account": self.ACCOUNT})
        elif path.startswith("/api/v1/namespaces/") and method == "DELETE":
            name = unquote(path.rsplit("/", 1)[1])
            if name not in self.namespaces:
                answer(handler, 404, {"code": "CRG0010E",
                                      "message": f"The namespace {name} does not exist."})
                return
            self._delete_namespace(name)
            answer(handler, 204, b"")
        elif path == "/api/v1/quotas" and method == "GET":
            used = sum(self.storage.size(d) for repo in self.storage.repositories()
                       if repo.split("/")[0] in self.namespaces
                       for d in set(self.storage.tags(repo).values()))
            answer(handler, 200, {"limit": {"storage_bytes": self.quota[0],
                                            "traffic_bytes": self.quota[1]},
                                  "usage": {"storage_bytes": used or self.usage[0],
                                            "traffic_bytes": self.usage[1]}})
        elif path == "/api/v1/trash" and method == "GET":
            wanted = (query.get("namespace") or [None])[0]
            answer(handler, 200, {name: entry for name, entry in self.trash.items()
                                  if wanted is None or
                                  name.split("/")[1] == wanted})
        else:
            answer(handler, 404, {"message": "not found"})

    def _images(self, namespaces: list[str] | None,
                repositories: list[str] | None) -> list[dict[str, Any]]:
        host = self.host
        by_digest: dict[str, dict[str, Any]] = {}
        for repo in self.storage.repositories():
            namespace = repo.split("/")[0]
            if namespace not in self.namespaces or (namespaces and namespace not in namespaces) \
                    or (repositories and repo not in repositories):
                continue
            for tag, digest in self.storage.tags(repo).items():
                entry = by_digest.get(digest)
                if entry is None:
                    config = self.storage.config(digest)
                    entry = by_digest[digest] = {
                        "Id": digest, "ParentId": "", "DigestTags": {digest: []},
                        "RepoTags": [], "RepoDigests": [],
                        "Created": int(time.time()), "Size": self.storage.size(digest),
                        "VirtualSize": self.storage.size(digest),
                        "Labels": (config.get("config") or {}).get("Labels") or {},
                        "ManifestType": self.storage.manifest(digest).get("mediaType"),
                        "Vulnerable": "false", "VulnerabilityCount": 0,
                        "ConfigurationIssueCount": 0, "IssueCount": 0, "ExemptIssueCount": 0}
                if tag not in entry["DigestTags"][digest]:
                    entry["DigestTags"][digest].append(tag)
                entry["RepoTags"].append(f"{host}/{repo}:{tag}")
                if f"{host}/{repo}@{digest}" not in entry["RepoDigests"]:
                    entry["RepoDigests"].append(f"{host}/{repo}@{digest}")
        return list(by_digest.values())

    def _delete_namespace(self, name: str) -> None:
        for repo in self.storage.repositories():
            if repo.split("/")[0] != name:
                continue
            tags = self.storage.tags(repo)
            for digest in sorted(set(tags.values())):
                self.trash[f"{self.host}/{repo}@{digest}"] = {
                    "daysUntilExpiry": 30, "tags": sorted(t for t, d in tags.items()
                                                          if d == digest)}
                self.session.delete(f"{self.registry.url}/v2/{repo}/manifests/{digest}")
        self.namespaces.discard(name)
