"""Reading a vendor API's JSON pages through the registry's transport (its TLS settings,
redirect rules and request count). A vendor API that refuses, fails or answers something
else is not an error here: the caller falls back to the OCI API (logged once a listing).

Imports ``transport`` (through the client), ``errors`` and ``registry``.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, Iterator
from urllib.parse import urljoin

import requests

from ..registry import RegistryClient

log = logging.getLogger("registry_widgets.vendors")
MAX_PAGES = 10_000  # 1,000,000 entries at 100 a page: a loop past that is a broken API


class Refused(Exception):
    """The vendor API would not answer (401/403, 5xx, not JSON, unreachable): use OCI."""


def basic_header(client: RegistryClient) -> dict[str, str]:
    """The registry's own username and password as Basic credentials, for a vendor API on
    the same account (Harbor's); nothing when anonymous or an identity token."""
    creds = client.transport.auth.credentials
    if creds is None or not creds.username or not creds.password:
        return {}
    pair = f"{creds.username}:{creds.password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def get_json(client: RegistryClient, url: str, *, credentials: dict[str, str] | None = None,
             origin: str | None = None, what: str = "") -> tuple[Any, Any]:
    """``(json, response)`` of one GET; Refused on anything but a 200 with JSON.
    ``credentials`` go only to ``origin``."""
    transport = client.transport
    try:
        response = transport.send("GET", url, headers={"Accept": "application/json"},
                                  credentials=credentials, origin=origin, reference=what)
    except requests.RequestException as e:
        raise Refused(f"{what}: {type(e).__name__}") from None
    status = response.status_code
    # A 404 too: Docker Hub says it for a private repository to a stranger, Harbor for a
    # repository outside a project. The OCI API is the authority on what exists.
    if status != 200:
        raise Refused(f"{what}: HTTP {status}")
    try:
        return response.json(), response
    except ValueError:
        raise Refused(f"{what}: the answer is not JSON") from None


def follow(client: RegistryClient, url: str, *, credentials: dict[str, str] | None = None,
           origin: str | None = None, what: str = "",
           next_of: Any = None) -> Iterator[Any]:
    """Each page's JSON, following ``next_of(json, response)`` (default: the ``Link``
    header, as Harbor sends it) until it gives None."""
    seen: set[str] = set()
    next_url: str | None = url
    while next_url:
        if next_url in seen or len(seen) >= MAX_PAGES:
            raise Refused(f"{what}: its pages lead back to {next_url}")
        seen.add(next_url)
        data, response = get_json(client, next_url, credentials=credentials, origin=origin,
                                  what=what)
        yield data
        if next_of is not None:
            following = next_of(data, response)
        else:
            following = response.links.get("next", {}).get("url")
        next_url = urljoin(response.url, following) if following else None
