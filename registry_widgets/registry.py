"""The registry client: the OCI distribution API over one pooled HTTP session.

Layer 2: imports ``errors``, ``reference``, ``manifest``, ``credentials`` and ``transport``
(which owns retries, auth and the status-to-exception mapping). Operations build on this
class and never build URLs themselves.

Facts it relies on (REGISTRY-NOTES.md): lists paginate with ``Link: <...>; rel="next"``;
manifests must be pushed as the exact bytes read; ``POST .../uploads/`` then one ``PUT``
with ``Content-Length`` is the most widely supported upload; a mount answers 201 (mounted)
or 202 with an upload location that we reuse.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urljoin
from typing import Any, Callable, Iterable, Iterator

import requests
import urllib3

from .credentials import credentials_from
from .errors import BadReference, DigestMismatch, ProtocolError, Unreachable
from .manifest import ACCEPT_MANIFESTS, NOT_THE_API, OCI_INDEX, Descriptor, Manifest
from .reference import validate_registry, validate_repository, validate_tag
from .transport import DEFAULT_TIMEOUT, Transport, scopes_for
# What the verbs need of HTTP, re-exported so that they import ``registry`` and never
# ``transport``: retryable statuses, option checks, and cancelling requests in flight.
from .transport import (RETRY_STATUSES, abort_requests, check_ca_file,  # noqa: F401
                        check_timeout, forget_requests, note_requests)

log = logging.getLogger("registry_widgets.registry")

# What iter_blob yields: one read off the socket (READ_SIZE), passed on as read. Larger
# chunks were joined from several reads: one more copy, and a copy's peak memory held
# two of them at once per blob (the one held back, the one being gathered).
CHUNK = 256 << 10
# What one read off the socket asks for. A connection that breaks mid-read loses the piece
# being read (urllib3 raises without handing it over), so resuming re-fetches at most this.
READ_SIZE = 256 << 10  # 64 KiB reads cost ~25% of GET throughput here; 256 KiB ~5%
_MID_BODY_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.ConnectionError,
                    urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError)


def _not_html(response: requests.Response, registry: str, reference: str) -> None:
    """A 2xx HTML page where JSON belongs: a proxy, login portal or web server, not the API."""
    if "html" in response.headers.get("Content-Type", "").lower():
        raise ProtocolError(f"{registry} answered HTTP {response.status_code} with an HTML page, "
                            f"not the registry API, for {reference}: is that address a registry "
                            "(or a login portal / proxy in the way)?", registry=registry,
                            reference=reference, status=response.status_code)


def _is_valid(validate: Callable[[str], Any], name: str) -> bool:
    try:
        validate(name)
    except BadReference:
        return False
    return True


def _hasher(digest: str) -> Any:
    algorithm, _, hex_part = digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not hex_part:
        raise ProtocolError(f"unsupported digest {digest!r}: expected sha256:<64 hex>")
    return hashlib.new(algorithm)


class _StreamBody:
    """A request body that streams chunks with a known length.

    ``requests`` sends ``Content-Length`` (not chunked encoding) for an iterable with
    ``__len__``; the whole blob is never held in memory.
    """

    def __init__(self, chunks: Iterable[bytes], size: int, sent: Callable[[int], None]):
        self._chunks, self._size, self._sent = chunks, size, sent

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._sent(len(chunk))
            yield chunk


class RegistryClient:
    """One registry (``host[:port]``, or a URL with an explicit scheme).

    Credentials: ``None`` reads Docker's config (``docker login`` is reused, and read again
    once when the registry refuses what it had, so a later ``docker login`` takes effect);
    or pass a ``Credentials``, a ``(user, password)`` tuple or a dict. TLS is verified; plain
    HTTP is used only for loopback registries or hosts in ``insecure_hosts``. ``timeout`` is
    ``(connect, read)`` seconds, the read timeout applying to each read, not a whole blob.
    """

    def __init__(self, registry: str, *, credentials: Any = None, config_dir: str | Path | None = None,
                 ca_bundle: str | None = None, insecure: bool = False, insecure_hosts: Iterable[str] = (),
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, retries: int = 4,
                 backoff: float = 0.5, pool_size: int = 16):
        registry = validate_registry(registry)  # refuses user:password@ without echoing it
        host = registry.rpartition("://")[2]
        creds = credentials_from(credentials, host, config_dir=config_dir)

        def reload() -> Any:
            return credentials_from(None, host, config_dir=config_dir)

        self.transport = Transport(registry, credentials=creds, ca_bundle=ca_bundle,
                                   insecure=insecure, insecure_hosts=insecure_hosts,
                                   timeout=timeout, retries=retries, backoff=backoff,
                                   pool_size=pool_size,
                                   reload_credentials=reload if credentials is None else None)
        self.registry = self.transport.registry

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    def refresh_credentials(self) -> bool:
        """Re-read Docker's config and credential helpers now (a user's Refresh, a push): True
        when other credentials were found and are now used."""
        return self.transport.auth.reload_credentials(now=True)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ref(self, repository: str, reference: str = "") -> str:
        sep = "@" if reference.startswith("sha") else ":"
        return f"{self.registry}/{repository}" + (f"{sep}{reference}" if reference else "")

    def _req(self, method: str, path: str, repository: str | None, actions: str, reference: str,
             **kwargs: Any) -> requests.Response:
        return self.transport.request(method, path, scopes=scopes_for(repository, actions),
                                      reference=reference, **kwargs)

    # -- base and lists --------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """``GET /v2/`` with credentials: raises if the registry is unreachable or refuses us,
        or if what answers is a web page (a login portal or proxy), not a registry."""
        response = self.transport.request("GET", "/v2/", reference="")
        _not_html(response, self.registry, f"{self.registry} (GET /v2/)")
        return {"registry": self.registry, "url": self.transport.base_url,
                "api_version": response.headers.get("Docker-Distribution-API-Version"),
                "auth": self.transport.auth.scheme or "none"}

    def _paginate(self, path: str, key: str, scopes: tuple[str, ...], reference: str,
                  n: int | None, valid: Callable[[str], Any]) -> Iterator[str]:
        """The items of a paginated list. Names the grammar rejects are left out (and
        logged): a name like ``../x`` would otherwise steer later requests to other paths."""
        url: str | None = path + (f"?n={n}" if n else "")
        visited: set[str] = set()
        while url:
            if url in visited:  # a broken registry or proxy; following it would never end
                raise ProtocolError(f"{self.registry} sent the {key} list of {reference} in pages "
                                    f"that lead back to {url}; the list cannot be read to its end",
                                    registry=self.registry, reference=reference)
            visited.add(url)
            response = self.transport.request("GET", url, scopes=scopes, reference=reference)
            _not_html(response, self.registry, reference)
            try:
                items = response.json().get(key) or []
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise TypeError(key)
            except (ValueError, AttributeError, TypeError) as e:
                raise ProtocolError(f"{self.registry} answered the {key} list of {reference} with "
                                    f"something that is not the registry's JSON list: "
                                    f"{response.content[:60]!r}. {NOT_THE_API}",
                                    registry=self.registry, reference=reference) from e
            names = [i for i in items if _is_valid(valid, i)]
            if len(names) != len(items):
                bad = next(i for i in items if not _is_valid(valid, i))
                log.warning("%s: ignoring %d entries of the %s list of %s that are not valid "
                            "names (such as %.80r)", self.registry, len(items) - len(names), key,
                            reference, bad)
            yield from names
            following = response.links.get("next", {}).get("url")
            # Relative to the page it came on; the transport decides what goes to its origin.
            url = urljoin(response.url, following) if following else None

    def catalog(self, *, n: int | None = None) -> Iterator[str]:
        """Every repository name, following ``Link`` pagination to the end."""
        return self._paginate("/v2/_catalog", "repositories", ("registry:catalog:*",),
                              f"{self.registry} catalog", n, validate_repository)

    def tags(self, repository: str, *, n: int | None = None) -> Iterator[str]:
        """Every tag of a repository, following ``Link`` pagination to the end."""
        return self._paginate(f"/v2/{repository}/tags/list", "tags",
                              scopes_for(repository, "pull"), self._ref(repository), n,
                              validate_tag)

    # -- manifests -------------------------------------------------------------------------

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """Digest, media type and size of a manifest, or None if absent (one cheap HEAD)."""
        response = self._req("HEAD", f"/v2/{repository}/manifests/{reference}", repository, "pull",
                             self._ref(repository, reference), ok=(200, 404),
                             headers={"Accept": ACCEPT_MANIFESTS})
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:  # some registries omit it on HEAD; fall back to a GET
            manifest = self.get_manifest(repository, reference)
            return manifest.descriptor()
        return Descriptor(media_type=response.headers.get("Content-Type", "").split(";")[0],
                          digest=digest, size=int(response.headers.get("Content-Length") or 0))

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest's exact bytes, checked against its digest."""
        ref = self._ref(repository, reference)
        response = self._req("GET", f"/v2/{repository}/manifests/{reference}", repository, "pull",
                             ref, headers={"Accept": ACCEPT_MANIFESTS})
        _not_html(response, self.registry, ref)
        try:
            manifest = Manifest.from_bytes(response.content,
                                           response.headers.get("Content-Type", "").split(";")[0])
        except ProtocolError as e:
            raise ProtocolError(f"{ref}: {e}", registry=self.registry, reference=ref) from e
        expected = reference if reference.startswith("sha256:") else \
            response.headers.get("Docker-Content-Digest")
        if expected and expected != manifest.digest:
            raise DigestMismatch(f"manifest {ref} has digest {manifest.digest}, expected {expected}: "
                                 "the registry served different bytes; nothing was used",
                                 registry=self.registry, reference=ref)
        return manifest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the exact bytes under a tag or digest; returns the digest the registry stored."""
        ref = self._ref(repository, reference)
        response = self._req("PUT", f"/v2/{repository}/manifests/{reference}", repository,
                             "pull,push", ref, ok=(200, 201), data=manifest.data,
                             headers={"Content-Type": manifest.media_type})
        stored = response.headers.get("Docker-Content-Digest") or manifest.digest
        if stored != manifest.digest:
            raise DigestMismatch(f"{ref}: the registry stored digest {stored} but we sent "
                                 f"{manifest.digest}", registry=self.registry, reference=ref)
        return stored

    def referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """The manifests whose ``subject`` is ``digest`` (OCI 1.1 referrers API), or None
        when the registry has no such API (distribution 2.x answers 404: its clients use
        the ``sha256-<hex>`` fallback tags instead)."""
        ref = self._ref(repository, digest)
        response = self._req("GET", f"/v2/{repository}/referrers/{digest}", repository, "pull",
                             ref, ok=(200, 404), headers={"Accept": OCI_INDEX})
        if response.status_code == 404 or "json" not in response.headers.get("Content-Type", ""):
            return None
        try:
            return [Descriptor.from_json(d) for d in response.json().get("manifests") or []]
        except (ValueError, AttributeError, ProtocolError) as e:
            raise ProtocolError(f"{ref}: the referrers list is not an OCI index. {NOT_THE_API}",
                                registry=self.registry, reference=ref) from e

    def delete_manifest(self, repository: str, reference: str) -> None:
        """DELETE a manifest by digest (removes every tag on it), or a tag where supported."""
        self._req("DELETE", f"/v2/{repository}/manifests/{reference}", repository, "delete",
                  self._ref(repository, reference), ok=(200, 202, 204))

    # -- blobs -----------------------------------------------------------------------------

    def head_blob(self, repository: str, digest: str) -> int | None:
        """The blob's size if the repository has it, else None."""
        response = self._req("HEAD", f"/v2/{repository}/blobs/{digest}", repository, "pull",
                             self._ref(repository, digest), ok=(200, 404))
        if response.status_code == 404:
            return None
        return int(response.headers.get("Content-Length") or 0)

    def iter_blob(self, repository: str, digest: str, *, chunk_size: int = CHUNK,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        """Stream a blob and verify its digest.

        The last chunk is held back until the digest checks out, so a consumer never sees
        the complete content of a corrupt blob. A connection dropped mid-body resumes with
        ``Range`` (or skips what it already has if the registry ignores ``Range``); only
        breaks without progress since the previous one count against the retry budget, so
        a long download over a flaky network gets through. ``check`` is called before every
        read off the socket: raising there (a cancelled copy) stops the download at once.
        """
        ref = self._ref(repository, digest)
        hasher = _hasher(digest)
        received, failures, broke_at = 0, 0, 0
        pending: bytes | None = None  # the chunk held back
        pieces: list[bytes] = []  # read since `pending`, joined into the next chunk
        buffered = 0
        while True:
            headers = {"Range": f"bytes={received}-"} if received else {}
            response = self._req("GET", f"/v2/{repository}/blobs/{digest}", repository, "pull", ref,
                                 ok=(200, 206), stream=True, headers=headers)
            skip = received if response.status_code == 200 else 0
            try:
                for piece in response.iter_content(min(chunk_size, READ_SIZE)):
                    if check is not None:
                        check()
                    if skip:
                        dropped = min(skip, len(piece))
                        piece, skip = piece[dropped:], skip - dropped
                        if not piece:
                            continue
                    hasher.update(piece)
                    received += len(piece)
                    self.transport.count("bytes_down", len(piece))
                    pieces.append(piece)
                    buffered += len(piece)
                    if buffered >= chunk_size:
                        if pending is not None:
                            yield pending
                        pending, pieces, buffered = b"".join(pieces), [], 0
                break
            except _MID_BODY_ERRORS as e:
                failures = 1 if received > broke_at else failures + 1
                broke_at = received
                if failures > self.transport.retries:
                    raise Unreachable(f"download of {ref} kept breaking after {received} bytes; "
                                      "check the network and try again", registry=self.registry,
                                      reference=ref) from e
                log.info("download of %s broke at %d bytes; resuming", ref, received)
            finally:
                response.close()
        actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatch(f"blob {ref} downloaded with digest {actual}: the content is "
                                 "corrupt; nothing was kept", registry=self.registry, reference=ref)
        if pending is not None:
            yield pending
        if pieces:
            yield b"".join(pieces)

    def get_blob(self, repository: str, digest: str) -> bytes:
        """A small blob (a config) in memory, verified."""
        return b"".join(self.iter_blob(repository, digest))

    def get_small_blob(self, repository: str, digest: str) -> bytes:
        """A blob known to be small (an image config, a few KiB) in memory, verified: one
        plain GET on the transport's cheap path for small requests (a break is retried
        whole), not the resumable stream of :meth:`iter_blob`. Listings read one per image."""
        ref = self._ref(repository, digest)
        hasher = _hasher(digest)
        data = self._req("GET", f"/v2/{repository}/blobs/{digest}", repository, "pull",
                         ref).content
        self.transport.count("bytes_down", len(data))
        hasher.update(data)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            raise DigestMismatch(f"blob {ref} downloaded with a different digest: the content "
                                 "is corrupt; nothing was kept", registry=self.registry,
                                 reference=ref)
        return data

    def download_blob(self, repository: str, digest: str, path: str | Path) -> Path:
        """Save a blob to ``path``; a corrupt download leaves no file behind."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.iter_blob(repository, digest):
                    handle.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def start_upload(self, repository: str, *, mount: str | None = None,
                     from_repository: str | None = None) -> str | None:
        """Open an upload; with ``mount``, first ask to mount that blob from another repository
        of this registry. Returns None when mounted, else the upload location to use."""
        path = f"/v2/{repository}/blobs/uploads/"
        extra: tuple[str, ...] = ()
        if mount and from_repository:
            path += f"?mount={mount}&from={from_repository}"
            extra = (f"repository:{from_repository}:pull",)
        response = self.transport.request(
            "POST", path, scopes=scopes_for(repository, "pull,push", extra),
            reference=self._ref(repository, mount or ""), ok=(201, 202), retry=True)
        if response.status_code == 201:
            return None
        location = response.headers.get("Location")
        if not location:
            raise ProtocolError(f"{self.registry} opened an upload for {repository} without a "
                                "Location header", registry=self.registry)
        return location

    def upload_blob(self, repository: str, digest: str, data: bytes | Iterable[bytes], size: int,
                    *, location: str | None = None) -> None:
        """Upload a blob: one streamed ``PUT`` with ``Content-Length`` (a chunked ``PATCH``
        sequence when the registry refuses large single requests with 413)."""
        ref = self._ref(repository, digest)
        given_location = location is not None
        location = location or self.start_upload(repository)
        assert location is not None
        if isinstance(data, bytes):
            body: Any = data
            self.transport.count("bytes_up", len(data))
        else:
            body = _StreamBody(data, size, lambda n: self.transport.count("bytes_up", n))
            if given_location:
                # A streamed body cannot be replayed after a 401, and a caller's location
                # (say from a mount attempt) was opened under other token scopes: ask for the
                # upload's status first, so a stale token is refreshed before the body starts.
                self._req("GET", location, repository, "pull,push", ref, ok=(204,))
        sep = "&" if "?" in location else "?"
        response = self._req("PUT", f"{location}{sep}digest={digest}", repository, "pull,push", ref,
                             ok=(201, 204, 413), data=body, retry=False,
                             headers={"Content-Type": "application/octet-stream"})
        if response.status_code == 413:
            if not isinstance(data, bytes):
                raise ProtocolError(f"{self.registry} refused a single upload of {ref} ({size} "
                                    "bytes, HTTP 413)", registry=self.registry, reference=ref)
            self._upload_chunked(repository, digest, data, ref)
            return
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != digest:
            raise DigestMismatch(f"{ref}: the registry stored {stored}", registry=self.registry,
                                 reference=ref)

    def _upload_chunked(self, repository: str, digest: str, data: bytes, ref: str,
                        chunk_size: int = 4 << 20) -> None:
        """The PATCH fallback: some registries cap a request's size (4 MiB chunks fit all)."""
        location = self.start_upload(repository)
        assert location is not None
        for start in range(0, len(data), chunk_size):
            chunk = data[start:start + chunk_size]
            response = self._req("PATCH", location, repository, "pull,push", ref, ok=(202,),
                                 data=chunk, retry=False, headers={
                                     "Content-Type": "application/octet-stream",
                                     "Content-Range": f"{start}-{start + len(chunk) - 1}"})
            location = response.headers.get("Location", location)
        sep = "&" if "?" in location else "?"
        self._req("PUT", f"{location}{sep}digest={digest}", repository, "pull,push", ref,
                  ok=(201, 204), retry=False)
