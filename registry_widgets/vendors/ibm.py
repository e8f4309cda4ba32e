"""IBM Cloud Container Registry: images (with the Vulnerability Advisor status),
namespaces, quota and trash, through IBM's own SDK.

IBM publishes ``ibm-container-registry`` (generated from its OpenAPI document,
https://cloud.ibm.com/apidocs/container-registry) and ``ibm-cloud-sdk-core``, whose
``IAMAuthenticator`` exchanges an API key for an IAM token at ``{iam}/identity/token``
(https://cloud.ibm.com/docs/account?topic=account-iamtoken_from_apikey) and renews it.
Every call carries the token and an ``Account`` header: the account is the ``account.bss``
claim of that token. Both take a base URL, so tests point them at local servers.

The API key is the password of the registry login ``iamapikey`` (``docker login -u
iamapikey``), else ``IBMCLOUD_API_KEY`` from the environment. It is held in memory by the
authenticator only: never written, logged (the SDK redacts it) or put in an error.

``GET /api/v1/images?namespace=&includeManifestLists=true&vulnerabilities=true`` answers a
whole namespace in one request: per image ``RepoTags`` (``host/ns/app:tag``),
``RepoDigests`` (``host/ns/app@sha256:...``), ``DigestTags`` (digest -> tags), ``Created``,
``Size`` and ``Vulnerable``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from typing import Any

from ..errors import ConfigurationError, Denied, NotFound, RegistryError, Unauthorized
from ..reference import registry_identity
from ..registry import RegistryClient
from . import api_url, iam_url
from .pages import log

USER = "iamapikey"
API_KEY_ENV = "IBMCLOUD_API_KEY"

_lock = threading.Lock()
_services: dict[str, tuple[str, Any]] = {}  # identity -> (sha256 of the key, SDK service)


def api_key(client: RegistryClient) -> str | None:
    """The API key for ``client``'s registry: its ``iamapikey`` login, else the
    environment's ``IBMCLOUD_API_KEY``; None when neither."""
    creds = client.transport.auth.credentials
    if creds is not None and creds.username == USER and creds.password:
        return creds.password
    return os.environ.get(API_KEY_ENV) or None


def _account_of(token: str) -> str | None:
    """The ``account.bss`` claim of an IAM access token (read, not verified: IBM's API
    verifies the token; this only says which account it is for)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        account = claims.get("account", {}).get("bss")
        return account if isinstance(account, str) else None
    except (IndexError, ValueError, AttributeError):
        return None


def service(client: RegistryClient) -> Any:
    """IBM's SDK client for ``client``'s registry, made once per registry and API key.
    ConfigurationError when there is no API key; Unauthorized when IAM refuses it."""
    key = api_key(client)
    if key is None:
        raise ConfigurationError(
            f"{client.registry} is IBM Cloud Container Registry and its API needs an IBM "
            f"Cloud API key: log in as user {USER} with the key as password, or set "
            f"{API_KEY_ENV}", registry=client.registry)
    identity = registry_identity(client.registry)
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    with _lock:
        kept = _services.get(identity)
        if kept is not None and kept[0] == fingerprint:
            return kept[1]
    from ibm_cloud_sdk_core import ApiException
    from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
    from ibm_container_registry.container_registry_v1 import ContainerRegistryV1

    authenticator = IAMAuthenticator(key, url=iam_url(client))
    try:
        token = authenticator.token_manager.get_token()
    except ApiException as e:
        raise Unauthorized(f"IBM Cloud IAM refused the API key for {client.registry} (HTTP "
                           f"{e.status_code}): create a new key (ibmcloud iam "
                           "api-key-create) and log in again", registry=client.registry,
                           status=e.status_code) from None
    except OSError as e:
        raise RegistryError(f"IBM Cloud IAM ({iam_url(client)}) could not be reached for "
                            f"{client.registry}: {type(e).__name__}",
                            registry=client.registry) from None
    account = _account_of(token)
    if account is None:
        raise Unauthorized(f"the IAM token for {client.registry} names no account",
                           registry=client.registry)
    sdk = ContainerRegistryV1(account, authenticator=authenticator)
    sdk.set_service_url(api_url(client))  # the registry's own origin: https://us.icr.io
    with _lock:
        _services[identity] = (fingerprint, sdk)
    return sdk


def call(client: RegistryClient, what: str, method: str, **kwargs: Any) -> Any:
    """``method`` of IBM's SDK with ``kwargs``; its answer's JSON. IBM's refusals become
    this package's errors, in words that say what was asked."""
    return call_status(client, what, method, **kwargs)[0]


def call_status(client: RegistryClient, what: str, method: str,
                **kwargs: Any) -> tuple[Any, int]:
    """:func:`call`, with the HTTP status of IBM's answer (201 created, 200 already there)."""
    from ibm_cloud_sdk_core import ApiException
    sdk = service(client)
    try:
        response = getattr(sdk, method)(**kwargs)
        return response.get_result(), response.get_status_code()
    except ApiException as e:
        kind = {401: Unauthorized, 403: Denied, 404: NotFound}.get(e.status_code, RegistryError)
        hint = {401: "log in again with a current API key",
                403: "the API key's user needs the Container Registry role for this",
                404: "check the name"}.get(e.status_code, "try again later")
        raise kind(f"IBM Cloud Container Registry refused {what} on {client.registry} (HTTP "
                   f"{e.status_code}: {e.message}); {hint}", registry=client.registry,
                   status=e.status_code) from None
    except OSError as e:
        raise RegistryError(f"IBM Cloud Container Registry did not answer {what} on "
                            f"{client.registry}: {type(e).__name__}",
                            registry=client.registry) from None


def tag_digests_of(images: list[dict[str, Any]], host: str) -> dict[str, dict[str, str]]:
    """``{repository: {tag: digest}}`` from ``/api/v1/images`` entries."""
    out: dict[str, dict[str, str]] = {}
    for image in images:
        tagged = {name.rpartition(":")[0].removeprefix(host + "/"): set() for name in
                  image.get("RepoTags") or []}
        for name in image.get("RepoTags") or []:
            repo, _, tag = name.rpartition(":")
            tagged[repo.removeprefix(host + "/")].add(tag)
        for repo_digest in image.get("RepoDigests") or []:
            repo, _, digest = repo_digest.partition("@")
            repo = repo.removeprefix(host + "/")
            for tag in (image.get("DigestTags") or {}).get(digest) or []:
                if tag in tagged.get(repo, ()):
                    out.setdefault(repo, {})[tag] = digest
    return out


class IBMListing:
    kind = "ibm"

    def __init__(self, client: RegistryClient):
        self.client = client
        self.outside_requests = 0  # IBM's SDK sends them, not the registry's transport
        self._namespaces: dict[str, dict[str, dict[str, str]] | None] = {}
        # digest -> {"vulnerable": Vulnerability Advisor's word, "vulnerabilities": count}
        self.details: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, client: RegistryClient) -> IBMListing | None:
        """A listing through IBM's API, or None without an API key (the OCI API then)."""
        if api_key(client) is None:
            log.info("%s: no IBM Cloud API key; listing through the OCI API", client.registry)
            return None
        return cls(client)

    def _namespace(self, namespace: str) -> dict[str, dict[str, str]] | None:
        with self._lock:  # one request per namespace, whichever worker asks first
            if namespace not in self._namespaces:
                try:
                    images = call(self.client, f"the image list of {namespace}", "list_images",
                                  namespace=namespace, include_manifest_lists=True,
                                  vulnerabilities=True)
                    self.outside_requests += 1
                    for image in images or []:
                        for repo_digest in image.get("RepoDigests") or []:
                            if image.get("Vulnerable"):
                                self.details[repo_digest.partition("@")[2]] = {
                                    "vulnerable": str(image["Vulnerable"]),
                                    "vulnerabilities": image.get("VulnerabilityCount")}
                    self._namespaces[namespace] = tag_digests_of(images or [],
                                                                 self.client.registry)
                except (RegistryError, ConfigurationError) as e:
                    log.info("%s: %s; listing %s through the OCI API", self.client.registry,
                             e, namespace)
                    self._namespaces[namespace] = None
            return self._namespaces[namespace]

    def repositories(self, namespace: str) -> list[str] | None:
        """The repositories of ``namespace`` that hold tags, from the same image list."""
        found = self._namespace(namespace)
        return None if found is None else sorted(found)

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        namespace, _, rest = repository.partition("/")
        if not rest:
            return None
        found = self._namespace(namespace)
        if found is None:
            return None
        if repository not in found:
            # IBM lists what holds tags; a repository without one is no row either way.
            return {}
        return dict(found[repository])
