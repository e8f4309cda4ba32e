"""``usage``: the bytes each namespace and repository stores, against optional limits.

Like ``ibmcloud cr quota``: a layer shared by several images (or tags, or repositories of
one namespace) is counted once at each level, because the registry stores it once. Bytes are
those of the config and layer blobs the images reference (compressed, as stored); the
listing is ``images()``'s, with its cache. A namespace's limit (:func:`set_usage_limit`,
saved in ``policies.json``, or ``limits=``) turns into ``percent`` and a ``status``: "ok",
"warning" from 80 % (as a quota warns) and "over limit" from 100 %; the warnings are logged
and listed in ``frame.attrs["warnings"]``.

Layer 3: imports ``errors`` and the sibling ``inventory`` and ``policies``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from ...errors import InvalidArgument
from ...progress import ProgressCallback
from ..core import journal, policies
from ...reference import validate_namespace
from ..images.inventory import inventory
from ..core.result import Result, human_size

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

log = logging.getLogger("registry_widgets.usage")

KEY = "limit"
WARN_AT = 0.8
COLUMNS = ["level", "namespace", "repository", "images", "tags", "bytes", "limit", "percent",
           "status"]
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kKMGT]i?)?B?\s*")
_FACTORS = {None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "ki": 2**10}


def parse_size(value: Any, option: str = "limit") -> int:
    """``5000``, ``"500MB"``, ``"2GiB"`` -> bytes. InvalidArgument for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or float(match[1]) <= 0:
        raise InvalidArgument(f"{option}: {value!r} is not a size; give bytes or a number with "
                              "a unit, e.g. '500MB' or '2GiB'; nothing was done")
    return int(float(match[1]) * _FACTORS[match[2]])


def set_usage_limit(target: str, limit: int | str | None) -> Result:
    """Save the storage limit of ``registry/namespace`` (``None`` removes it). Journaled."""
    registry, namespace, _ = policies.split_target(target, verb="set_usage_limit",
                                                   repository_allowed=False)
    value = None if limit is None else parse_size(limit)
    policies.put(registry, namespace, KEY, value)
    result = Result(action="set_usage_limit", target=f"{registry}/{namespace}",
                    details={"registry": registry, "namespace": namespace, "limit": value})
    journal.append(result)
    return result


def usage(registry: str, namespace: str | None = None, *,
          limits: Mapping[str, int | str] | None = None,
          repositories: str | Iterable[str] | None = None,
          progress: ProgressCallback | None = None) -> pd.DataFrame:
    """One row per namespace (``level`` "namespace") and per repository ("repository") of
    ``registry`` (or of one ``namespace``): ``images`` (distinct digests), ``tags``, ``bytes``
    (shared layers once), ``limit`` (from ``limits={"ns": "5GB"}`` or the saved limit),
    ``percent`` and ``status``. ``frame.attrs["warnings"]``: namespaces at 80 % or more.
    ``repositories``: the repositories to count instead of the catalog's (Docker Hub and
    GHCR refuse it; without them the ones remembered for the registry are counted, and
    ``frame.attrs["notes"]`` says so)."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    if namespace is not None:
        validate_namespace(namespace)
    wanted = {str(k): parse_size(v, f"limits[{k!r}]") for k, v in (limits or {}).items()}
    listing = inventory(registry, namespace, repositories=repositories, progress=progress)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in listing.rows:
        blobs = listing.details[row["digest"]]["blobs"]
        for key in ((row["namespace"], ""), (row["namespace"], row["repository"])):
            group = groups.setdefault(key, {"digests": set(), "tags": 0, "blobs": {}})
            group["digests"].add(row["digest"])
            group["tags"] += 1
            group["blobs"].update(blobs)
    rows, warnings = [], []
    for (ns, repo), group in sorted(groups.items()):
        size = sum(group["blobs"].values())
        limit = None
        if not repo:
            limit = wanted.get(ns)
            if limit is None and ns:
                limit = policies.get(listing.registry, ns, KEY)
        percent = round(100 * size / limit, 1) if limit else None
        status = ""
        if limit:
            status = "over limit" if size >= limit else "warning" if size >= WARN_AT * limit \
                else "ok"
            if status != "ok":
                warnings.append(f"namespace {ns} on {listing.registry} uses {human_size(size)} "
                                f"of its {human_size(limit)} limit ({percent} %): {status}")
        rows.append({"level": "repository" if repo else "namespace", "namespace": ns,
                     "repository": repo, "images": len(group["digests"]), "tags": group["tags"],
                     "bytes": size, "limit": limit, "percent": percent, "status": status})
    for message in warnings:
        log.warning("%s", message)
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("images", "tags", "bytes"):
        table[column] = table[column].astype("int64")
    table["limit"] = table["limit"].astype("Int64")
    table.attrs["registry"] = listing.registry
    table.attrs["warnings"] = warnings
    table.attrs["notes"] = list(listing.notes)
    return table



def ibm_usage(registry: str) -> pd.DataFrame:
    """IBM Cloud Container Registry's own quota and usage for the account (``ibmcloud cr
    quota``, from IBM's API) beside the bytes :func:`usage` counts here, one row per figure
    (``storage``, ``pull traffic``): ``ibm_used``, ``ibm_limit`` (None: unlimited) and
    ``counted_here`` (storage: the namespaces' bytes summed, a layer shared by two namespaces
    in each; traffic is not something a listing can count). Raises InvalidArgument when
    ``registry`` is not IBM's."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    from ..images.ibm_cloud import ibm_quota
    quota = ibm_quota(registry)
    here = usage(registry)
    stored = int(here.loc[here["level"] == "namespace", "bytes"].sum())
    table = pd.DataFrame([
        {"figure": "storage", "ibm_used": quota["storage_used"],
         "ibm_limit": quota["storage_limit"], "counted_here": stored},
        {"figure": "pull traffic", "ibm_used": quota["traffic_used"],
         "ibm_limit": quota["traffic_limit"], "counted_here": None}],
        columns=["figure", "ibm_used", "ibm_limit", "counted_here"])
    for column in ("ibm_used", "ibm_limit", "counted_here"):
        table[column] = table[column].astype("Int64")
    table.attrs["registry"] = here.attrs.get("registry", registry)
    return table
