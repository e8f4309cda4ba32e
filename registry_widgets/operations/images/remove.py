"""``remove``: take a tag or an image out of a registry, safely, plan first.

Layer 3 (a verb): imports ``errors``, ``manifest``, ``progress``, ``reference``, and the
operations' ``clients``, ``journal``, ``namespaces`` (declared names), ``removal_plan`` and
``result``; it never builds URLs (the client does). Plans are read, then computed by pure
functions (``compute_plan``, ``compute_namespace_plan``), then applied.

Facts it relies on (REGISTRY-NOTES.md, "Delete"):

- ``DELETE /v2/<name>/manifests/<digest>`` removes the manifest and so EVERY tag on it (its
  co-tags). That is what removing a *digest* means here, and the plan lists those tags.
- Removing one *tag* must keep its co-tags. Distribution 3 and OCI 1.1 allow
  ``DELETE .../manifests/<tag>``; distribution 2.x does not, and answers it (measured on 2.8.2)
  with ``400 DIGEST_INVALID`` when deletes are enabled (``405 UNSUPPORTED`` when they are not).
  So we try the tag DELETE and, on that answer, fall back to the safe 2.x method: point the tag
  at a tiny unique placeholder manifest, then delete the placeholder by digest. Some registries
  have deleted the whole manifest on a tag DELETE; after one we check the image and its co-tags
  survived and put them back (from the backup) if not, and never try it on that registry again.
- Deletes answer 405 when the registry runs with ``delete: enabled: false`` (distribution's
  default). Before moving any tag we probe with a DELETE of a digest that cannot exist
  (405: disabled, 404: enabled), so a tag is never left on the placeholder.
- Storage is only freed by the registry's offline garbage collection.

Before anything is deleted, the manifests' exact bytes and the tag -> digest map go to the
journal (action ``remove-backup``), so :func:`restore` can put them back as long as the
registry still has the blobs (until garbage collection runs).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping

from ...errors import (BadReference, ConfirmationRequired, DeleteDisabled, NotFound, Protected,
                       RegistryError)
from ...manifest import OCI_MANIFEST, Manifest, digest_of
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference, validate_repository
from ...registry import RegistryClient
from ..core import journal
from ..core.arguments import check_bool, check_optional_str
from ..core.backup import children_first, restore, write_backup  # noqa: F401
from ..core.clients import client_for
from .in_use import LocalUse, local_use
from .namespaces import declared_namespaces
from .protection import protected_tags, refuse_protected
# plan_remove, RemovalPlan and restore belong to this verb's API; they live beside it.
from .remove_plan import (IndexRef, RemovalPlan, RepositoryIndex, check_drift, compute_plan,  # noqa: F401
                          plan_remove, read_index, read_repository, remember_tag_delete,
                          tag_delete_known_unsupported)
from ..core.result import Result, Timer, human_size

log = logging.getLogger("registry_widgets.remove")

PLACEHOLDER_LABEL = "io.github.registry-widgets.placeholder"
# Answers to DELETE .../manifests/<tag> that mean "no tag delete here" once the probe has shown
# deletes are enabled: distribution 2.x says 400 DIGEST_INVALID; others 404, 405 or 501.
_NO_TAG_DELETE = frozenset({400, 404, 405, 501})
BATCH_WORKERS = 8  # repositories whose removals run side by side in a batch (retention)




# -- remove --------------------------------------------------------------------------------


def remove(ref: str | Reference, *, force: bool = False, dry_run: bool = False,
           plan: RemovalPlan | None = None, progress: ProgressCallback | None = None) -> Result:
    """Remove a tag (``repo:tag``: only that tag; its co-tags stay) or delete an image
    (``repo@digest``: the manifest and every tag on it). Similar to ``crane delete`` for a
    digest, and to ``regctl tag delete`` for a tag.

    ``dry_run=True`` returns the plan as the Result and sends no DELETE, PUT, POST or PATCH.
    ``plan``: a plan from :func:`plan_remove` that the user approved; the registry is read
    again and the plan computed afresh (:func:`compute_plan`), and if it no longer matches
    (the tag moved, the digest gained tags, an index appeared), nothing is done and
    ConfirmationRequired is raised. Without ``plan`` one is computed the same way. Refuses
    (Protected) to delete a platform of a multi-arch index unless ``force=True``. Raises
    DeleteDisabled (nothing changed) when the registry does not allow deletes and NotFound
    when the tag or digest does not exist.

    ``result.details``: ``tags_removed``, ``co_tags`` (the other tags on that digest: kept for
    a tag, removed with a digest), ``co_tags_kept``, ``method``, ``plan`` (text) and
    ``backup_id`` (for :func:`restore`).
    """
    check_bool("force", force)
    check_bool("dry_run", dry_run)
    if plan is not None and not isinstance(plan, RemovalPlan):
        raise TypeError(f"plan must be a RemovalPlan from plan_remove(), not {plan!r}; nothing "
                        "was done")
    ref = parse_reference(ref)
    client = client_for(ref.registry)
    force = force or (plan.force if plan is not None else False)
    with Timer() as timer:
        inventory = read_index(client, ref)
        current = compute_plan(ref, inventory, force=force,
                               tag_delete_unsupported=tag_delete_known_unsupported(ref.registry))
        if plan is not None:
            check_drift(plan, current)
        result = Result(action="remove", target=current.target, digest=current.digest,
                        details=_details(current))
        use = local_use()
        _note_safety(result, current, inventory, use)
        if dry_run:
            result.changed, result.dry_run = False, True
        else:
            _refuse_unsafe(current, inventory, use, force)
            _apply(client, current, inventory, result, progress)
    result.duration = timer.elapsed
    if not dry_run:
        journal.record(result)  # the delete is done and backed up: a warning, not an error
    return result


def _image_goes(plan: RemovalPlan, index: RepositoryIndex) -> bool:
    """True when the image itself goes: a digest delete, or its last tag (no index keeps it)."""
    return plan.kind == "digest" or not (plan.co_tags_kept or plan.referenced_by)


def _note_safety(result: Result, plan: RemovalPlan, index: RepositoryIndex, use: LocalUse) -> None:
    """What the plan touches that is protected or used by local containers, for the Result."""
    result.details["protected"] = protected_tags(plan.registry, plan.repository,
                                                 plan.tags_removed)
    users = use.of(plan.registry, plan.repository, [plan.digest])
    result.details["in_use"] = [str(u) for u in users]
    result.details["in_use_checked"] = use.checked


def _refuse_unsafe(plan: RemovalPlan, index: RepositoryIndex, use: LocalUse, force: bool) -> None:
    """Protected tags, and an image a running container uses, are refused unless ``force``."""
    refuse_protected(plan.registry, plan.repository, plan.tags_removed, force=force,
                     action=f"removing {plan.target}")
    running = [str(u) for u in use.of(plan.registry, plan.repository, [plan.digest]) if u.running]
    if running and not force and _image_goes(plan, index):
        raise Protected(f"{plan.target} is the image of running {', '.join(running)} on the local "
                        "engine (the guide: remove the containers that use an image before "
                        "removing it). Nothing was changed. Stop them first, or pass force=True",
                        registry=plan.registry, reference=plan.target)


def _details(plan: RemovalPlan) -> dict[str, Any]:
    co_tags = plan.co_tags_kept if plan.kind == "tag" else plan.tags_removed
    return {"registry": plan.registry, "repository": plan.repository, "kind": plan.kind,
            "tags_removed": list(plan.tags_removed), "co_tags": list(co_tags),
            "co_tags_kept": list(plan.co_tags_kept), "method": plan.method,
            "blocked_by": [str(i) for i in plan.blocked_by],
            "forced": bool(plan.blocked_by) and plan.force,
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe()}


def _apply(client: RegistryClient, plan: RemovalPlan, inventory: RepositoryIndex, result: Result,
           progress: ProgressCallback | None) -> None:
    if not plan.allowed:
        indexes = "; ".join(str(i) for i in plan.blocked_by)
        raise Protected(f"{plan.target} is a platform of the multi-arch index {indexes} in "
                        f"{plan.registry}/{plan.repository}; deleting it would break that index. "
                        "Nothing was changed. Remove the index first, or pass force=True to "
                        "delete it anyway", registry=plan.registry, reference=plan.target)
    _ensure_deletes_enabled(client, plan.repository, plan.target)
    original = inventory.manifests.get(plan.digest) or client.get_manifest(plan.repository,
                                                                          plan.digest)
    tags = [(t, plan.digest) for t in plan.tags_removed]
    backup_id = write_backup(plan.registry, plan.target, [(plan.repository, [original], tags)],
                             undone=f"{plan.target} was not removed: nothing was changed")
    result.details["backup_id"] = backup_id
    emit(progress, ProgressEvent("remove", id=plan.digest, status="removing", message=plan.target))
    if plan.kind == "digest":
        client.delete_manifest(plan.repository, plan.digest)
        method = "manifest-delete"
    else:
        method = _untag(client, plan, original, backup_id, result)
    result.details["method"] = method
    _verify(client, plan, original)
    emit(progress, ProgressEvent("remove", id=plan.digest, status="removed", message=plan.target))


def _ensure_deletes_enabled(client: RegistryClient, repository: str, target: str) -> None:
    """DELETE a well-formed digest that cannot exist: 404 means deletes are enabled, 405 that
    they are not. Nothing can be deleted by it, and it runs before any tag is moved."""
    probe = digest_of(b"registry-widgets delete probe " + os.urandom(16))
    try:
        client.delete_manifest(repository, probe)
    except NotFound:
        return
    except DeleteDisabled as e:
        raise DeleteDisabled(
            f"{client.registry} does not allow deletes (it answered HTTP 405), so {target} was "
            "not removed: nothing was changed. Its operator must enable them (CNCF "
            "distribution: storage: delete: enabled: true)", registry=client.registry,
            reference=target, status=e.status, code=e.code) from e


def _untag(client: RegistryClient, plan: RemovalPlan, original: Manifest, backup_id: str,
           result: Result) -> str:
    assert plan.tag is not None
    if not tag_delete_known_unsupported(plan.registry):
        try:
            client.delete_manifest(plan.repository, plan.tag)
        except RegistryError as e:
            if e.status not in _NO_TAG_DELETE:
                raise
            # distribution 2.x: 400 DIGEST_INVALID ("provided digest did not match").
            result.details["tag_delete_answer"] = f"{e.status} {e.code or ''}".strip()
            remember_tag_delete(plan.registry, False)
        else:
            if client.head_manifest(plan.repository, plan.tag) is None:
                if _repair(client, plan, original):
                    result.details["repaired"] = ("the registry's tag DELETE removed more than "
                                                  "the tag; the image and its co-tags were put "
                                                  "back")
                    remember_tag_delete(plan.registry, False)
                else:
                    remember_tag_delete(plan.registry, True)
                return "tag-delete"
    return _untag_with_placeholder(client, plan, original, backup_id)


def _repair(client: RegistryClient, plan: RemovalPlan, original: Manifest) -> bool:
    """After a tag DELETE: put back the image and any co-tag that went with it."""
    repaired = False
    if client.head_manifest(plan.repository, plan.digest) is None:
        log.warning("%s: the tag DELETE removed the image %s too; putting it back",
                    plan.registry, plan.digest)
        client.put_manifest(plan.repository, plan.digest, original)
        repaired = True
    for tag in plan.co_tags_kept:
        head = client.head_manifest(plan.repository, tag)
        if head is None or head.digest != plan.digest:
            client.put_manifest(plan.repository, tag, original)
            repaired = True
    return repaired


def _placeholder(client: RegistryClient, repository: str, tag: str) -> Manifest:
    """A tiny manifest no one else can have: a unique config blob and no layers."""
    config = json.dumps({
        "architecture": "none", "os": "none", "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {PLACEHOLDER_LABEL: f"removing tag {tag}",
                              f"{PLACEHOLDER_LABEL}.nonce": uuid.uuid4().hex}},
    }, separators=(",", ":"), sort_keys=True).encode()
    config_digest = digest_of(config)
    client.upload_blob(repository, config_digest, config, len(config))
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }, separators=(",", ":")).encode()
    return Manifest(data=body, media_type=OCI_MANIFEST)


def _untag_with_placeholder(client: RegistryClient, plan: RemovalPlan, original: Manifest,
                            backup_id: str) -> str:
    """Move the tag to a placeholder, then delete the placeholder by digest: its only tag is
    this one, so that delete takes no other tag. Any failure puts the tag back."""
    assert plan.tag is not None
    placeholder = _placeholder(client, plan.repository, plan.tag)
    try:
        client.put_manifest(plan.repository, plan.tag, placeholder)
        client.delete_manifest(plan.repository, placeholder.digest)
    except BaseException as e:
        try:
            client.put_manifest(plan.repository, plan.tag, original)
        except Exception as again:
            raise RegistryError(
                f"removing {plan.target} failed ({e}), and putting the tag back on "
                f"{plan.digest} failed too ({again}): the tag may point at the placeholder "
                f"{placeholder.digest}. Run restore({backup_id!r}, force=True) to put it back",
                registry=plan.registry, reference=plan.target) from e
        if isinstance(e, RegistryError):
            raise type(e)(f"removing {plan.target} failed: {e}. The tag was put back on "
                          f"{plan.digest}, so no tag changed (an untagged placeholder manifest "
                          f"{placeholder.digest} may stay until garbage collection)",
                          registry=plan.registry,
                          reference=plan.target, status=e.status, code=e.code) from e
        raise
    return "placeholder"


def _verify(client: RegistryClient, plan: RemovalPlan, original: Manifest) -> None:
    """Check the registry now shows what the plan promised."""
    for tag in plan.tags_removed:
        head = client.head_manifest(plan.repository, tag)
        if head is not None and head.digest == plan.digest:  # another digest: pushed since
            raise RegistryError(f"{plan.registry} still lists {plan.repository}:{tag} on "
                                f"{plan.digest} after the delete", registry=plan.registry,
                                reference=plan.target)
    if plan.kind == "tag" and _repair(client, plan, original):
        raise RegistryError(f"{plan.registry} removed more than {plan.target}; the image and its "
                            "co-tags were put back", registry=plan.registry,
                            reference=plan.target)


# -- remove_namespace ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryContents:
    """One repository of a namespace: its tags and its manifests in deletion order."""

    repository: str
    tags: tuple[tuple[str, str], ...]  # (tag, digest)
    digests: tuple[str, ...]  # indexes before the manifests they reference


@dataclass(frozen=True)
class NamespacePlan:
    """What :func:`remove_namespace` would delete (pure data)."""

    registry: str
    namespace: str
    repositories: tuple[RepositoryContents, ...] = ()
    bytes_freed_estimate: int = 0

    @property
    def tag_count(self) -> int:
        return sum(len(r.tags) for r in self.repositories)

    @property
    def digest_count(self) -> int:
        return sum(len(r.digests) for r in self.repositories)

    def describe(self) -> str:
        head = (f"Delete namespace {self.registry}/{self.namespace}/: "
                f"{len(self.repositories)} repositories, {self.tag_count} tags, "
                f"{self.digest_count} manifests (up to {human_size(self.bytes_freed_estimate)} freed "
                "once the registry's garbage collection runs)")
        lines = [head]
        for repo in self.repositories:
            tags = ", ".join(t for t, _ in repo.tags) or "none"
            lines.append(f"  {repo.repository}: tags {_capped(tags.split(', '))}; "
                         f"manifests {_capped([d[:19] for d in repo.digests]) or 'none'}")
        return "\n".join(lines)


def _capped(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _deletion_order(manifests: dict[str, Manifest]) -> list[str]:
    """Indexes before their children, so no delete breaks an index that is still there."""
    return [m.digest for m in reversed(children_first(list(manifests.values())))]


def plan_remove_namespace(registry: str, namespace: str) -> NamespacePlan:
    """Every repository under ``namespace/`` with its tags and manifests. Changes nothing.

    Manifests are those reachable from tags (and the platforms of tagged indexes):
    distribution has no API that lists untagged manifests. Raises NotFound when no
    repository is under ``namespace/`` and it was not declared with ``add_namespace``.
    """
    client = client_for(registry)
    return compute_namespace_plan(client.registry, namespace, read_namespace(client, namespace))


def _valid_namespace(namespace: str) -> str:
    """The namespace without surrounding '/'; a path such as ``team/sub`` is allowed."""
    text = namespace.strip("/") if isinstance(namespace, str) else namespace
    try:
        return validate_repository(text)
    except (BadReference, TypeError) as e:
        raise BadReference(f"Invalid namespace {namespace!r}: {e} A namespace is the first part "
                           "of a repository path, e.g. my_namespace in "
                           "registry/namespace/repository:tag", reference=str(namespace)) from None


def read_namespace(client: RegistryClient, namespace: str) -> dict[str, RepositoryIndex]:
    """The I/O half of a namespace plan: a snapshot of every repository under
    ``namespace/`` (catalog, tag lists, HEAD and GET only)."""
    namespace = _valid_namespace(namespace)
    target = f"{client.registry}/{namespace}/"
    try:
        names = sorted(r for r in client.catalog() if r.startswith(namespace + "/"))
        indexes = {name: read_repository(client, name) for name in names}
    except RegistryError as e:
        # Name the namespace: the failing request was only a catalog or a tag list.
        raise type(e)(f"cannot read {target} to plan its removal, so nothing was changed: {e}",
                      registry=e.registry or client.registry, reference=target,
                      status=e.status, code=e.code) from e
    if not names and namespace not in declared_namespaces(client.registry):
        raise NotFound(f"namespace {namespace} not found on {client.registry}: no repository is "
                       f"under {target}, so nothing was removed and nothing was changed. Check "
                       f"the name: namespaces({client.registry!r}) lists them",
                       registry=client.registry, reference=target)
    return indexes


def compute_namespace_plan(registry: str, namespace: str,
                           indexes: Mapping[str, RepositoryIndex]) -> NamespacePlan:
    """What deleting ``namespace`` takes, from snapshots of its repositories. Pure."""
    namespace = _valid_namespace(namespace)
    repos, freed = [], 0
    for name in sorted(indexes):
        index = indexes[name]
        order = _deletion_order(dict(index.manifests))
        repos.append(RepositoryContents(name, tuple(sorted(index.tags.items())), tuple(order)))
        blobs = {b.digest: b.size for m in index.manifests.values() for b in m.blobs}
        freed += sum(blobs.values()) + sum(m.size for m in index.manifests.values())
    return NamespacePlan(registry, namespace, tuple(repos), freed)


def _plan_namespace(client: RegistryClient, namespace: str
                    ) -> tuple[NamespacePlan, dict[str, Mapping[str, Manifest]]]:
    indexes = read_namespace(client, namespace)
    plan = compute_namespace_plan(client.registry, namespace, indexes)
    return plan, {name: index.manifests for name, index in indexes.items()}


def remove_namespace(registry: str, namespace: str, *, confirm: str | None = None,
                     dry_run: bool = False, force: bool = False,
                     progress: ProgressCallback | None = None) -> Result:
    """Delete every image of every repository under ``namespace/`` on ``registry``.

    Refuses (ConfirmationRequired, showing the plan) unless ``confirm`` equals the namespace,
    like typing a repository's name to delete it on GitHub. ``dry_run=True`` returns the plan
    and needs no confirmation. Indexes go before their platforms. Everything is backed up to
    the journal first; ``restore(result)`` puts it back until garbage collection runs.
    Protected tags (``protect``) and images of running local containers are refused unless
    ``force=True``.
    """
    check_bool("dry_run", dry_run)
    check_bool("force", force)
    check_optional_str("confirm", confirm)
    client = client_for(registry)
    with Timer() as timer:
        plan, manifests = _plan_namespace(client, namespace)
        target = f"{plan.registry}/{plan.namespace}/"
        result = Result(action="remove_namespace", target=target, details={
            "registry": plan.registry, "namespace": plan.namespace,
            "repositories": [r.repository for r in plan.repositories],
            "tags_removed": [f"{r.repository}:{t}" for r in plan.repositories for t, _ in r.tags],
            "digests": [f"{r.repository}@{d}" for r in plan.repositories for d in r.digests],
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe()})
        protected = {f"{r.repository}:{t}": p for r in plan.repositories
                     for t, p in protected_tags(plan.registry, r.repository,
                                                [t for t, _ in r.tags]).items()}
        use = local_use()
        users = [(f"{r.repository}@{d}", u) for r in plan.repositories
                 for d in r.digests for u in use.of(plan.registry, r.repository, [d])]
        result.details.update(protected=protected, in_use_checked=use.checked,
                              in_use=[f"{ref}: {u}" for ref, u in users])
        if dry_run:
            result.changed, result.dry_run = False, True
            result.duration = timer.elapsed
            return result
        if confirm != plan.namespace:
            said = "no confirmation" if confirm is None else f"confirm={confirm!r}"
            raise ConfirmationRequired(
                f"{plan.describe()}\nNothing was changed ({said}). To delete all of this, pass "
                f'confirm="{plan.namespace}"', registry=plan.registry, reference=target)
        if protected and not force:
            raise Protected(f"{target} holds protected tags: {', '.join(sorted(protected))}. "
                            "Nothing was changed. Pass force=True to delete them too, or "
                            f"unprotect({target.rstrip('/')!r})", registry=plan.registry,
                            reference=target)
        running = [f"{ref}: {u}" for ref, u in users if u.running]
        if running and not force:
            raise Protected(f"images of {target} are used by running containers: "
                            f"{'; '.join(running)}. Nothing was changed. Stop them first, or "
                            "pass force=True", registry=plan.registry, reference=target)
        if plan.digest_count == 0:
            result.changed = False
        else:
            _delete_namespace(client, plan, manifests, result, progress)
    result.duration = timer.elapsed
    journal.record(result)
    return result


def _delete_namespace(client: RegistryClient, plan: NamespacePlan,
                      manifests: Mapping[str, Mapping[str, Manifest]], result: Result,
                      progress: ProgressCallback | None) -> None:
    target = f"{plan.registry}/{plan.namespace}/"
    first = next(r for r in plan.repositories if r.digests)
    _ensure_deletes_enabled(client, first.repository, target)
    result.details["backup_id"] = write_backup(plan.registry, target, [
        (r.repository, [manifests[r.repository][d] for d in r.digests], r.tags)
        for r in plan.repositories], undone=f"{target} was not removed: nothing was changed")
    deleted: list[str] = []
    result.details["deleted"] = deleted
    total = plan.digest_count
    try:
        for repo in plan.repositories:
            for digest in repo.digests:
                try:
                    client.delete_manifest(repo.repository, digest)
                except NotFound:  # deleted meanwhile by someone else: the goal holds
                    pass
                deleted.append(f"{repo.repository}@{digest}")
                emit(progress, ProgressEvent("remove", id=digest, status="deleted",
                                             current=len(deleted), total=total,
                                             message=f"{repo.repository}@{digest}"))
    except RegistryError as e:
        result.details["failed"] = str(e)
        journal.record(result)
        raise type(e)(f"deleting {target} stopped after {len(deleted)} of {total} manifests: "
                      f"{e}. restore({result.details['backup_id']!r}) puts them back",
                      registry=plan.registry, reference=target, status=e.status,
                      code=e.code) from e


# -- batches (retention) -------------------------------------------------------------------


def apply_batch(client: RegistryClient, batch: list[tuple[RepositoryIndex, list[RemovalPlan]]],
                *, target: str, result: Result, progress: ProgressCallback | None = None) -> str:
    """Apply approved plans of several repositories as one run: one deletes probe, ONE journal
    backup of everything (so ``restore(result)`` undoes the whole run), then each plan as
    ``remove`` applies it (digest deletes, safe tag removals, verification). The plans must
    have been computed from ``batch``'s snapshots just now. Returns the backup id."""
    plans = [p for _, ps in batch for p in ps]
    if not plans:
        return ""
    blocked = [p for p in plans if not p.allowed]
    if blocked:
        raise Protected(f"{', '.join(p.target for p in blocked)} would break multi-arch indexes "
                        f"({'; '.join(str(i) for p in blocked for i in p.blocked_by)}); nothing "
                        "was changed. Pass force=True to delete anyway",
                        registry=client.registry, reference=target)
    _ensure_deletes_enabled(client, plans[0].repository, target)
    backups = []
    for index, repo_plans in batch:
        if not repo_plans:
            continue
        digests = list(dict.fromkeys(p.digest for p in repo_plans))
        tags = [(t, p.digest) for p in repo_plans for t in p.tags_removed]
        backups.append((repo_plans[0].repository, [index.manifests[d] for d in digests], tags))
    backup_id = write_backup(client.registry, target, backups,
                             undone=f"nothing of {target} was removed")
    result.details["backup_id"] = backup_id
    done: list[str] = []
    result.details["done"] = done
    stop = threading.Event()
    lock = threading.Lock()

    def repository(item: tuple[RepositoryIndex, list[RemovalPlan]]) -> None:
        # In plan order within a repository (indexes before what they use); repositories
        # run side by side, since a delete waits mostly on the registry.
        index, repo_plans = item
        for plan in repo_plans:
            if stop.is_set():
                return
            original = index.manifests[plan.digest]
            try:
                if plan.kind == "digest":
                    try:
                        client.delete_manifest(plan.repository, plan.digest)
                    except NotFound:  # deleted meanwhile by someone else: the goal holds
                        pass
                else:
                    _untag(client, plan, original, backup_id, result)
                _verify(client, plan, original)
            except BaseException:
                stop.set()
                raise
            with lock:
                done.append(plan.target)
                count = len(done)
            emit(progress, ProgressEvent("remove", id=plan.digest, status="removed",
                                         current=count, total=len(plans), message=plan.target))

    try:
        with ThreadPoolExecutor(max_workers=BATCH_WORKERS, thread_name_prefix="retention") as pool:
            for future in [pool.submit(repository, item) for item in batch if item[1]]:
                future.result()
    except RegistryError as e:
        result.details["failed"] = str(e)
        journal.append(result)
        raise type(e)(f"{target}: stopped after {len(done)} of {len(plans)} removals: {e}. "
                      f"restore({backup_id!r}) puts them back", registry=client.registry,
                      reference=target, status=e.status, code=e.code) from e
    return backup_id
