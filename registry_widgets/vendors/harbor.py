"""Harbor v2: a repository's artifacts with their tags, 100 a page.

``GET /api/v2.0/projects/{project}/repositories/{repository}/artifacts?with_tag=true
&page_size=100`` (Harbor's API reference, https://goharbor.io/docs/2.10.0/build-customize-
contribute/configure-swagger/ and its swagger.yaml): a JSON list of artifacts, each with
``digest``, ``manifest_media_type``, ``size``, ``push_time`` and ``tags`` (``[{"name"}]``,
null when untagged); the next page in a ``Link: <...>; rel="next"`` header, the total in
``X-Total-Count``. A repository name inside the path is URL-encoded twice (``a/b`` is
``a%252Fb``). Harbor's API takes the registry account's Basic credentials.

harborapi (a maintained Harbor client) is asyncio and pydantic throughout; this listing
runs in worker threads and needs one endpoint, so it is called here with the registry's
own transport instead (same TLS settings, same request count).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..registry import RegistryClient
from . import api_url
from .pages import Refused, basic_header, follow, log

PAGE_SIZE = 100  # Harbor's largest page_size


class HarborListing:
    kind = "harbor"

    def __init__(self, client: RegistryClient, base: str | None):
        self.client = client
        self.base = api_url(client, base)
        self.credentials = basic_header(client)
        self.requests = 0
        self.details: dict[str, dict[str, Any]] = {}  # digest -> {"pushed": push_time}

    def repositories(self, namespace: str) -> list[str] | None:
        """``GET /api/v2.0/projects/{project}/repositories?page_size=100``: ``[{"name":
        "project/app", ...}]``, the next page in ``Link``."""
        url = (f"{self.base}/api/v2.0/projects/{quote(namespace, safe='')}/repositories"
               f"?page_size={PAGE_SIZE}&page=1")
        names: list[str] = []
        try:
            for page in follow(self.client, url, credentials=self.credentials,
                               origin=self.base, what=f"Harbor repositories of {namespace}"):
                if not isinstance(page, list):
                    raise Refused(f"Harbor repositories of {namespace}: not a list")
                names += [r["name"] for r in page if isinstance(r, dict)
                          and isinstance(r.get("name"), str)
                          and r["name"].startswith(namespace + "/")]
        except Refused as e:
            log.info("%s: %s; asking the catalog", self.client.registry, e)
            return None
        return sorted(set(names))

    def tag_digests(self, repository: str) -> dict[str, str] | None:
        project, _, rest = repository.partition("/")
        if not rest:  # every Harbor repository is inside a project
            return None
        path = (f"/api/v2.0/projects/{quote(project, safe='')}/repositories/"
                f"{quote(quote(rest, safe=''), safe='')}/artifacts"
                f"?with_tag=true&page_size={PAGE_SIZE}&page=1")
        found: dict[str, str] = {}
        try:
            for page in follow(self.client, self.base + path, credentials=self.credentials,
                               origin=self.base, what=f"Harbor artifacts of {repository}"):
                self.requests += 1
                if not isinstance(page, list):
                    raise Refused(f"Harbor artifacts of {repository}: not a list")
                for artifact in page:
                    digest = artifact.get("digest") if isinstance(artifact, dict) else None
                    if not isinstance(digest, str):
                        raise Refused(f"Harbor artifacts of {repository}: no digest")
                    if artifact.get("push_time"):
                        self.details[digest] = {"pushed": str(artifact["push_time"])}
                    for tag in artifact.get("tags") or []:
                        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
                            found[tag["name"]] = digest
        except Refused as e:
            log.info("%s: %s; listing %s through the OCI API", self.client.registry, e,
                     repository)
            return None
        return found
