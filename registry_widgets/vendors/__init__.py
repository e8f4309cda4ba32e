"""Vendor listing APIs: Harbor v2, Docker Hub and IBM Cloud Container Registry.

The OCI API lists tags without digests, so a listing costs a request per tag. The
registries people use answer a hundred tags with their digests in one request through
their own API (one request for a whole namespace on IBM's). This package asks that API
where the registry offers it and answers None where it does not; the listing then uses
the OCI API, as it does for every other registry, repository or refusal.

Which vendor a registry is, is decided once per registry and remembered in memory: a
kind declared with :func:`use_vendor_api`; else the host (``docker.io`` is
Docker Hub, ``icr.io`` and ``*.icr.io`` / ``*.bluemix.net`` are IBM's); else the Bearer
challenge the registry sent (Harbor's token service is ``harbor-registry``): a listing's
first request, or, for a client that has sent none yet, one ``GET /v2/``.

Layer 2, beside ``registry``: imports ``transport`` (HTTP with the registry's TLS settings
and request count), ``credentials``, ``registry``, ``errors`` and ``reference``. The
listing (``operations.images.inventory``) and IBM's verbs reach it; widgets never do.

* ``harbor``: ``/api/v2.0/projects/{p}/repositories/{r}/artifacts``, 100 a page.
* ``dockerhub``: ``/v2/namespaces/{ns}/repositories/{r}/tags``, 100 a page, and the
  ``ratelimit-*`` headers of the registry's answers ("pulls left").
* ``ibm``: ``/api/v1/images``, namespaces, quotas and trash, through IBM's own SDK.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConfigurationError, RegistryError, Unreachable
from ..reference import registry_identity, validate_registry
from ..registry import RegistryClient

log = logging.getLogger("registry_widgets.vendors")

KINDS = ("harbor", "dockerhub", "ibm")
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_API = "https://hub.docker.com"
IBM_HOSTS = ("icr.io", "*.icr.io", "*.bluemix.net")
IAM_URL = "https://iam.cloud.ibm.com"
HARBOR_SERVICE = "harbor-registry"
# IBM Cloud Container Registry's registries (https://cloud.ibm.com/docs/Registry?topic=
# Registry-registry_overview#registry_regions): label -> host, for the registry bar.
IBM_REGIONS = {
    "IBM global (icr.io)": "icr.io",
    "IBM us-south (us.icr.io)": "us.icr.io",
    "IBM uk-south (uk.icr.io)": "uk.icr.io",
    "IBM eu-central (de.icr.io)": "de.icr.io",
    "IBM ap-south (au.icr.io)": "au.icr.io",
    "IBM ap-north (jp.icr.io)": "jp.icr.io",
    "IBM jp-osa (jp2.icr.io)": "jp2.icr.io",
    "IBM ca-tor (ca.icr.io)": "ca.icr.io",
    "IBM br-sao (br.icr.io)": "br.icr.io",
    "IBM eu-fr2 (fr2.icr.io)": "fr2.icr.io",
}


class Listing(Protocol):
    """One listing's use of a vendor API (made per listing: what it read is not reused)."""

    kind: str
    # What the vendor says of a digest beyond the rows: {"pushed": ..., "vulnerable": ...}
    details: dict[str, dict[str, Any]]

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        """``{tag: digest}`` of every tag of ``repository``; None when the API does not
        answer for it (refused, failed, unknown there): the OCI API then lists it, and says
        whether it exists."""

    def repositories(self, namespace: str) -> list[str] | None:
        """Every repository of ``namespace`` (full names, ``ns/app``), where the catalog
        may be refused (Docker Hub always, Harbor but for administrators); None when the
        API does not answer: the catalog is asked then."""


@dataclass
class Declared:
    kind: str | None  # None: never a vendor API for this registry
    api_url: str | None = None
    iam_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_declared: dict[str, Declared] = {}
_detected: dict[str, str | None] = {}  # identity -> the kind found, remembered


def use_vendor_api(registry: str, kind: str | None, *, api_url: str | None = None,
                   iam_url: str | None = None) -> None:
    """Say which vendor API ``registry`` offers, where the host does not tell: ``"harbor"``,
    ``"dockerhub"`` or ``"ibm"``, or None for none (the OCI API only). ``api_url`` is the
    API's base URL when it is not the registry's own (Docker Hub's is ``hub.docker.com``);
    ``iam_url`` is IBM's IAM token service (``https://iam.cloud.ibm.com``). Kept in
    memory for this kernel; nothing is sent here."""
    registry = validate_registry(registry)
    if kind is not None and kind not in KINDS:
        raise ConfigurationError(f"the vendor API of {registry} must be one of "
                                 f"{', '.join(KINDS)} or None, not {kind!r}", registry=registry)
    for name, url in (("api_url", api_url), ("iam_url", iam_url)):
        if url is not None and not (isinstance(url, str) and
                                    url.startswith(("http://", "https://"))):
            raise ConfigurationError(f"{name} of {registry} must be an http(s) URL, "
                                     f"not {url!r}", registry=registry)
    with _lock:
        _declared[registry_identity(registry)] = Declared(
            kind, api_url.rstrip("/") if api_url else None,
            iam_url.rstrip("/") if iam_url else None)
        _detected.pop(registry_identity(registry), None)


def forget() -> None:
    """Forget every declared and detected vendor (tests, or a fresh start)."""
    with _lock:
        _declared.clear()
        _detected.clear()


def _host_kind(host: str) -> str | None:
    host = host.rpartition("://")[2].split(":")[0].lower()
    if host in DOCKER_HUB_HOSTS:
        return "dockerhub"
    if any(fnmatch.fnmatch(host, pattern) for pattern in IBM_HOSTS):
        return "ibm"
    return None


def named_kind(registry: str) -> str | None:
    """The vendor ``registry`` is by declaration or by its host alone (never Harbor, which
    only its challenge tells); sends nothing, makes no client."""
    registry = validate_registry(registry)
    with _lock:
        declared = _declared.get(registry_identity(registry))
    return declared.kind if declared is not None else _host_kind(registry)


def kind_of(client: RegistryClient) -> str | None:
    """The vendor API ``client``'s registry offers, or None (see the module's docstring);
    sends nothing."""
    identity = registry_identity(client.registry)
    with _lock:
        declared = _declared.get(identity)
        if declared is not None:
            return declared.kind
        if identity in _detected:
            return _detected[identity]
    kind = _host_kind(client.registry)
    if kind is None and not client.transport.stats["requests"]:
        # Nothing asked yet, so no challenge seen: one GET /v2/ (what `docker login` sends
        # first) tells, once per client. Every other listing request comes after one.
        try:  # once, without retries: a registry that is down is reported by the listing
            client.transport.request("GET", "/v2/", retry=False, ok=(200, 401, 403, 404))
        except Unreachable:
            return None  # nothing answered: undecided, asked again next time
        except RegistryError:
            pass  # an anonymous 401 still carries the challenge; anything else: no vendor
    if kind is None and client.transport.auth.service == HARBOR_SERVICE:
        kind = "harbor"
    with _lock:
        _detected[identity] = kind
    if kind:
        log.info("%s offers the %s API; listings use it", client.registry, kind)
    return kind


def _declared_for(client: RegistryClient) -> Declared:
    with _lock:
        return _declared.get(registry_identity(client.registry)) or Declared(None)


def listing(client: RegistryClient) -> Listing | None:
    """A vendor listing for one listing of ``client``'s registry, or None for the OCI API."""
    kind = kind_of(client)
    if kind is None:
        return None
    declared = _declared_for(client)
    if kind == "harbor":
        from .harbor import HarborListing
        return HarborListing(client, declared.api_url)
    if kind == "dockerhub":
        from .dockerhub import DockerHubListing, watch_rate_limit
        watch_rate_limit(client)
        return DockerHubListing(client, declared.api_url or DOCKER_HUB_API)
    from .ibm import IBMListing
    return IBMListing.for_client(client)  # its SDK reads api_url() and iam_url()


def api_url(client: RegistryClient, default: str | None = None) -> str:
    """The declared vendor API base URL of ``client``'s registry, else ``default``, else
    the registry's own origin."""
    declared = _declared_for(client)
    return declared.api_url or default or client.transport.base_url


def iam_url(client: RegistryClient) -> str:
    """IBM's IAM token service for ``client``'s registry (declared, else IBM's)."""
    return _declared_for(client).iam_url or IAM_URL
