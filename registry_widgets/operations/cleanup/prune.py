"""``prune``: delete the manifests no tag reaches, safely (IBM's ``cr image-prune-untagged``).

Why not distribution's ``garbage-collect --delete-untagged``: on distribution 2.x it deletes
the untagged platform manifests of every *tagged* multi-arch index too (buildx and crane push
those by digest only), leaving each index pointing at 404s (distribution issues #3178 and
#3004, fixed only in distribution 3). So the package works out itself what no tag reaches and
deletes exactly that through the API, backed up, through the change engine:

- kept: every manifest a tag names, in ANY repository of the registry (the registry's catalog
  is read, not only the repositories in scope; where it is refused, the repositories named
  or remembered for it, as every bulk verb does: ``images.repositories``); the children of every kept index, to any
  depth; the subject of every signature, attestation or SBOM tag (``sha256-<hex>.sig``,
  ``.att``, ``.sbom`` and the OCI 1.1 fallback tag ``sha256-<hex>``); every manifest whose
  ``subject`` is kept (a referrer pushed by digest);
- pruned: the other manifests of the repositories in scope, indexes before their children.

A registry's API lists no untagged manifests. For a local registry (the one ``make lab``
runs, or any given by its ``config`` file) the candidates are the manifest revisions in its
storage; for others, the digests this machine's listing index has seen there. The plan says
which.

Imports ``reference``, ``manifest``, ``registry`` (through ``core.clients``), the core's
``changes``, ``index`` and ``policies``, ``images.repositories`` (which repositories to
read), and the sibling ``storage`` (a local registry's folders).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterable

from ...errors import BadReference, Denied, NotFound, Unauthorized
from ...manifest import Manifest
from ...progress import ProgressCallback
from ...reference import validate_registry
from ..core import changes
from ..core.arguments import check_bool
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.policies import split_target
from ..core.result import Result, human_size
from ..images.repositories import CATALOG, catalog_refused, repositories_to_read, reworded
from ...registry import RegistryClient
from . import storage

ACCESSORY_TAG = re.compile(r"^sha256-([0-9a-f]{64})(?:\.(?:sig|att|sbom))?$")


def _scope(target: str) -> tuple[str, str | None, str | None]:
    """``registry``, ``registry/namespace`` or ``registry/namespace/repository``."""
    if not isinstance(target, str) or not target.strip():
        raise BadReference(f"prune: {target!r} is not a registry, registry/namespace or "
                           "registry/namespace/repository (e.g. 127.0.0.1:5000/team); nothing "
                           "was done", reference=str(target))
    if "/" not in target.strip().strip("/"):
        return validate_registry(target.strip().rstrip("/")), None, None
    registry, namespace, repository = split_target(target, verb="prune")
    return registry, namespace, repository


def _in_scope(repository: str, namespace: str | None, wanted: str | None) -> bool:
    if wanted is not None:
        return repository == wanted
    return namespace is None or repository.split("/", 1)[0] == namespace


def _seen_digests(registry: str, repository: str) -> list[str]:
    """Digests this machine's listing index has seen in ``repository`` (any tag, any time)."""
    from ..core import index

    try:
        store = index.shared()
        rows = store._read("SELECT DISTINCT digest FROM tags WHERE registry = ? AND "
                           "repository = ? AND digest IS NOT NULL", (registry, repository))
    except Exception:  # noqa: BLE001 - an unreadable index means "nothing seen", not a failure
        return []
    return sorted(r[0] for r in rows if isinstance(r[0], str) and r[0].startswith("sha256:"))


def _repositories(client: RegistryClient, plan: Plan, wanted: str | None,
                  named: str | Iterable[str] | None) -> list[str]:
    """The repositories whose tags decide what is kept: the catalog's, else those named or
    remembered (``images.repositories``; the plan's notes say which), else the one
    repository of the target."""
    registry = client.registry
    try:
        chosen = repositories_to_read(
            registry, named=named, catalog=client.catalog,
            credentials_refused=lambda e: client.transport.auth.has_credentials)
    except (Denied, Unauthorized, NotFound) as e:
        if wanted is None or not catalog_refused(e):
            raise reworded(e, f"prune: {e}; or prune one repository (registry/namespace/"
                              "repository). Nothing was done", registry=registry,
                           reference=plan.target) from e
        plan.notes.append(f"{registry} does not list its repositories: only the tags of "
                          f"{wanted} were read to decide what is still needed")
        return [wanted]
    if chosen.source == CATALOG:
        return chosen.names
    plan.notes += chosen.notes
    plan.notes.append("only the tags of those repositories were read to decide what is still "
                      "needed (a manifest is reached only from its own repository)")
    return sorted(set(chosen.names) | ({wanted} if wanted else set()))


def plan_prune(target: str, *, config: str | os.PathLike[str] | None = None,
               repositories: str | Iterable[str] | None = None,
               progress: ProgressCallback | None = None) -> Plan:
    """The plan of :func:`prune`: which untagged manifests would go, which are kept and why.
    ``repositories``: those to read instead of the catalog's (Docker Hub and GHCR refuse
    it); without them, where it is refused, those remembered for the registry."""
    registry, namespace, wanted = _scope(target)
    client = client_for(registry)
    local = (storage._from_config(Path(config)) if config is not None
             else storage.embedded_registry(registry))
    plan = Plan(action="prune", registry=registry, target=target.strip().rstrip("/"))
    every = _repositories(client, plan, wanted, repositories)
    scope = [repo for repo in every if _in_scope(repo, namespace, wanted)]
    if wanted is not None and wanted not in every:
        raise NotFound(f"prune: {registry}/{wanted} does not exist; nothing was done",
                       registry=registry, reference=target)

    manifests: dict[tuple[str, str], Manifest] = {}

    def manifest(repository: str, digest: str) -> Manifest | None:
        key = (repository, digest)
        if key not in manifests:
            try:
                manifests[key] = client.get_manifest(repository, digest)
            except NotFound:
                return None
        return manifests[key]

    # What the tags reach, registry-wide (a digest kept in one repository is kept in all:
    # conservative, and what the registry's own GC assumes of shared blobs).
    keep: dict[str, str] = {}
    for repository in every:
        tags = {}
        for tag in client.tags(repository):
            head = client.head_manifest(repository, tag)
            if head is None:
                continue
            tags[tag] = head.digest
            keep.setdefault(head.digest, f"tagged {repository}:{tag}")
            match = ACCESSORY_TAG.match(tag)
            if match:
                keep.setdefault(f"sha256:{match.group(1)}", f"signed or attested by "
                                                            f"{repository}:{tag}")
        plan.snapshot[repository] = tags
        pending = list(dict.fromkeys(tags.values()))
        while pending:
            digest = pending.pop()
            m = manifest(repository, digest)
            for child in (m.children if m is not None else []):
                if child.digest not in keep:
                    keep[child.digest] = f"listed by the index {digest[:19]} in {repository}"
                    pending.append(child.digest)

    source = ("the registry's storage" if local is not None
              else "the digests this machine's listing has seen")
    plan.notes.append(f"untagged manifests found in {source}")
    candidates: list[tuple[str, str]] = []
    for repository in scope:
        found = (storage.stored_revisions(local.storage, repository) if local is not None
                 else _seen_digests(registry, repository))
        candidates += [(repository, d) for d in found]

    loose: list[tuple[str, str, Manifest]] = []
    for repository, digest in candidates:
        if digest in keep:
            plan.kept.append({"repository": repository, "digest": digest,
                              "why": keep[digest]})
            continue
        m = manifest(repository, digest)
        if m is None:
            continue  # deleted already; storage keeps a revision folder until GC
        loose.append((repository, digest, m))
    # A referrer pushed by digest (OCI 1.1 ``subject``) stays while its subject stays; a
    # referrer of a referrer too, hence the loop until nothing more is kept.
    changing = True
    while changing:
        changing = False
        for repository, digest, m in loose:
            subject = m.json.get("subject")
            if digest not in keep and isinstance(subject, dict) and subject.get("digest") in keep:
                keep[digest] = f"refers to {subject['digest'][:19]}"
                changing = True
    for repository, digest, m in loose:
        if digest in keep:
            plan.kept.append({"repository": repository, "digest": digest, "why": keep[digest]})
            continue
        size = sum(d.size for d in m.blobs) + m.size
        plan.changes.append(Change(repository, digest, before=digest, after=None,
                                   reason="no tag reaches it", size=size))
    if plan.changes:
        plan.notes.append(f"{len(plan.changes)} untagged manifest(s) would be deleted, up to "
                          f"{human_size(plan.bytes_freed)} once the registry collects garbage")
    return plan


def prune(target: str, *, dry_run: bool = True, plan: Plan | None = None,
          config: str | os.PathLike[str] | None = None, cancel: threading.Event | None = None,
          repositories: str | Iterable[str] | None = None,
          progress: ProgressCallback | None = None) -> Result:
    """Delete the manifests no tag reaches in a registry, namespace or repository.

    ``dry_run=True`` (the default) returns the plan and changes nothing. ``plan``: a plan
    from :func:`plan_prune` (or a dry run's) that the user reviewed; it is applied exactly,
    and refused if anything it read has changed since. Every deleted manifest is backed up:
    ``restore(result)`` puts them back until the registry collects its garbage.
    ``repositories``: as in :func:`plan_prune` (a registry that refuses its catalog).
    """
    check_bool("dry_run", dry_run)
    if plan is None:
        plan = plan_prune(target, config=config, repositories=repositories, progress=progress)
    elif not isinstance(plan, Plan) or plan.action != "prune":
        raise BadReference("prune: plan= takes the plan of a prune (plan_prune(...)); nothing "
                           "was done", reference=str(target))
    elif plan.target != str(target).strip().rstrip("/"):
        raise BadReference(f"prune: that plan is for {plan.target}, not {target}; nothing was "
                           "done", reference=str(target))
    if dry_run:
        return changes.preview(plan)
    return changes.apply(plan, cancel=cancel, progress=progress)


def digests(plan_or_result: Plan | Result) -> Iterable[str]:
    """The digests a prune plan (or its Result) deletes."""
    rows = (plan_or_result.rows() if isinstance(plan_or_result, Plan)
            else plan_or_result.details["plan"]["changes"])
    return [row["reference"] for row in rows]
