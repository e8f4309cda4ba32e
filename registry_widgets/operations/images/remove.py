"""``remove``: take a tag or an image out of a registry, safely, plan first.

Layer 4 (a verb): imports ``errors``, ``manifest``, ``progress``, ``reference``, the core's
``changes`` (the change engine: the only sender of manifest DELETEs and PUTs), ``clients``,
``journal`` and ``result``, and the sibling ``in_use``, ``namespaces``, ``protection`` and
``remove_plan``; it never builds URLs (the client does). Plans are read, then computed by pure
functions (``compute_plan``, ``compute_namespace_plan``), then handed to the engine.

What a removal means (REGISTRY-NOTES.md, "Delete"):

- ``DELETE /v2/<name>/manifests/<digest>`` removes the manifest and so EVERY tag on it (its
  co-tags). That is what removing a *digest* means here, and the plan lists those tags; the
  image's signature and attestation tags (``sha256-<hex>.sig``...) go with it.
- Removing one *tag* keeps its co-tags: the engine's untag step (``core.untag``) uses the tag
  DELETE where the registry has one and the placeholder method on distribution 2.x, checks
  the co-tags survived and repairs them if a registry took more.
- The engine re-reads the repository (refusing a plan that drifted), checks the guards
  (protected tags, running containers, index platforms, a repository left without images:
  Protected unless ``force=True``), probes that deletes are enabled, backs the manifests
  and tags up to the journal (``restore`` puts them back until garbage collection), applies,
  verifies and journals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from ...errors import BadReference, ConfirmationRequired, NotFound, RegistryError
from ...manifest import Manifest
from ...progress import ProgressCallback
from ...reference import Reference, parse_reference, validate_repository
from ...registry import RegistryClient
from ..core import changes
from ..core.arguments import check_bool, check_optional_str
from ..core.backup import children_first, restore  # noqa: F401 - this verb's undo
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.result import Result, Timer, human_size
from .in_use import LocalUse, local_use
from .namespaces import declared_namespaces
from .protection import protected_tags
from .repositories import CATALOG, Repositories, repositories_to_read, reworded
# plan_remove, RemovalPlan and restore belong to this verb's API; they live beside it.
from .remove_plan import (IndexRef, RemovalPlan, RemovalsPlan, RepositoryIndex,  # noqa: F401
                          check_drift, compute_plan, merge_removals, plan_remove,
                          plan_remove_many, read_index, read_repository, remember_tag_delete,
                          tag_delete_known_unsupported)


# -- remove --------------------------------------------------------------------------------


def remove(ref: str | Reference, *, force: bool = False, dry_run: bool = False,
           plan: RemovalPlan | None = None, progress: ProgressCallback | None = None) -> Result:
    """Remove a tag (``repo:tag``: only that tag; its co-tags stay) or delete an image
    (``repo@digest``: the manifest, every tag on it and its signature tags). Similar to
    ``crane delete`` for a digest, and to ``regctl tag delete`` for a tag.

    ``dry_run=True`` returns the plan as the Result and sends no DELETE, PUT, POST or PATCH.
    ``plan``: a plan from :func:`plan_remove` that the user approved; it is applied exactly,
    and if the registry no longer matches it (the tag moved, the digest gained tags, an index
    appeared), nothing is done and ConfirmationRequired is raised. Refuses (Protected) to
    delete a platform of a multi-arch index, a protected tag, an image a running container
    uses, or the last image of a repository, unless ``force=True``. Raises DeleteDisabled
    (nothing changed) when the registry does not allow deletes and NotFound when the tag or
    digest does not exist.

    ``result.details``: ``tags_removed``, ``co_tags`` (the other tags on that digest: kept for
    a tag, removed with a digest), ``co_tags_kept``, ``method``, ``plan`` (text),
    ``findings`` (the engine's guards) and ``backup_id`` (for :func:`restore`).
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
            check_drift(plan, current)  # says in the plan's words what moved
        details = _details(current)
        _note_safety(details, current, local_use())
        if dry_run:
            result = Result(action="remove", target=current.target, digest=current.digest,
                            changed=False, dry_run=True, details=details)
        else:
            # The approved plan's decision was checked just now (check_drift); the engine
            # applies the change set read this instant, so several approved removals in one
            # repository (a widget's selected rows) apply one after the other. A plan's own
            # change set applied as is: changes.apply(plan.changes).
            assert current.changes is not None
            result = changes.apply(replace(current.changes, force=force), progress=progress)
            result.digest = current.digest
            engine = result.details
            result.details = {**engine, **details, "change_plan": engine["plan"]}
            result.details["method"] = next(iter(engine.get("methods", {}).values()),
                                            current.method)
    result.duration = timer.elapsed
    return result


def remove_many(plan: RemovalsPlan, *, cancel: threading.Event | None = None,
                progress: ProgressCallback | None = None) -> Result:
    """Apply a :func:`plan_remove_many` plan the user approved, exactly and at once: one
    change set through the engine (re-checked against the registry, refused with "changed
    since the plan" and nothing changed if any repository it read moved; one backup; one
    journal record). ``restore(result)`` puts every removed tag and image back. The blocked
    plans (``plan.skipped``) are not applied; ``details["skipped"]`` names them."""
    if not isinstance(plan, RemovalsPlan):
        raise TypeError(f"plan must be a RemovalsPlan from plan_remove_many(), not {plan!r}; "
                        "nothing was done")
    with Timer() as timer:
        result = changes.apply(plan.changes, cancel=cancel, progress=progress)
    applied = [p for p in plan.plans if p.allowed]
    result.details.update(
        tags_removed=[f"{p.repository}:{t}" for p in applied for t in p.tags_removed],
        skipped=[p.target for p in plan.skipped])
    result.duration = timer.elapsed
    return result


def _note_safety(details: dict[str, Any], plan: RemovalPlan, use: LocalUse) -> None:
    """What the plan touches that is protected or used by local containers, for the Result
    (the engine refuses them when it applies)."""
    details["protected"] = protected_tags(plan.registry, plan.repository, plan.tags_removed)
    users = use.of(plan.registry, plan.repository, [plan.digest])
    details["in_use"] = [str(u) for u in users]
    details["in_use_checked"] = use.checked


def _details(plan: RemovalPlan) -> dict[str, Any]:
    co_tags = plan.co_tags_kept if plan.kind == "tag" else plan.tags_removed
    return {"registry": plan.registry, "repository": plan.repository, "kind": plan.kind,
            "tags_removed": list(plan.tags_removed), "co_tags": list(co_tags),
            "co_tags_kept": list(plan.co_tags_kept), "method": plan.method,
            "accessories_removed": list(plan.accessories),
            "blocked_by": [str(i) for i in plan.blocked_by],
            "forced": bool(plan.blocked_by) and plan.force,
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe()}


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
    # what the engine applies (every manifest, each repository's tags as the snapshot); set
    # by plan_remove_namespace, so remove_namespace(plan=...) applies exactly what was shown
    changes: Plan | None = field(default=None, compare=False, repr=False)
    # Where the catalog was not read or was refused: the repositories read instead (checked
    # again before an apply) and the notes that say so.
    named: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()

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
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _capped(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _deletion_order(manifests: dict[str, Manifest]) -> list[str]:
    """Indexes before their children, so no delete breaks an index that is still there."""
    return [m.digest for m in reversed(children_first(list(manifests.values())))]


def plan_remove_namespace(registry: str, namespace: str, *,
                          repositories: str | Iterable[str] | None = None) -> NamespacePlan:
    """Every repository under ``namespace/`` with its tags and manifests. Changes nothing.

    Manifests are those reachable from tags (and the platforms of tagged indexes):
    distribution has no API that lists untagged manifests. Raises NotFound when no
    repository is under ``namespace/`` and it was not declared with ``add_namespace``.
    ``repositories``: those to read instead of the catalog's (Docker Hub and GHCR refuse
    it); without them, where it is refused, those remembered for the registry, and the
    plan's ``notes`` say so.
    """
    return _plan_namespace(client_for(registry), namespace, repositories)


def _valid_namespace(namespace: str) -> str:
    """The namespace without surrounding '/'; a path such as ``team/sub`` is allowed."""
    text = namespace.strip("/") if isinstance(namespace, str) else namespace
    try:
        return validate_repository(text)
    except (BadReference, TypeError) as e:
        raise BadReference(f"Invalid namespace {namespace!r}: {e} A namespace is the first part "
                           "of a repository path, e.g. my_namespace in "
                           "registry/namespace/repository:tag", reference=str(namespace)) from None


def read_namespace(client: RegistryClient, namespace: str,
                   repositories: str | Iterable[str] | None = None
                   ) -> dict[str, RepositoryIndex]:
    """The I/O half of a namespace plan: a snapshot of every repository under
    ``namespace/`` (catalog, tag lists, HEAD and GET only)."""
    return _read_namespace(client, namespace, repositories)[0]


def _namespace_repositories(client: RegistryClient, namespace: str,
                            named: str | Iterable[str] | None) -> Repositories:
    """The repositories under ``namespace/``: the catalog's, else named, else remembered."""
    chosen = repositories_to_read(
        client.registry, named=named, catalog=client.catalog, under=namespace,
        credentials_refused=lambda e: client.transport.auth.has_credentials)
    chosen.names = [name for name in chosen.names if name != namespace]
    return chosen


def _read_namespace(client: RegistryClient, namespace: str,
                    repositories: str | Iterable[str] | None
                    ) -> tuple[dict[str, RepositoryIndex], Repositories]:
    namespace = _valid_namespace(namespace)
    target = f"{client.registry}/{namespace}/"
    try:
        chosen = _namespace_repositories(client, namespace, repositories)
        names = chosen.names
        indexes = {name: read_repository(client, name) for name in names}
    except RegistryError as e:
        # Name the namespace: the failing request was only a catalog or a tag list.
        raise reworded(e, f"cannot read {target} to plan its removal, so nothing was changed: "
                          f"{e}", registry=e.registry or client.registry,
                       reference=target) from e
    if not names and namespace not in declared_namespaces(client.registry):
        raise NotFound(f"namespace {namespace} not found on {client.registry}: no repository is "
                       f"under {target}, so nothing was removed and nothing was changed. Check "
                       f"the name: namespaces({client.registry!r}) lists them",
                       registry=client.registry, reference=target)
    return indexes, chosen


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


def _plan_namespace(client: RegistryClient, namespace: str,
                    repositories: str | Iterable[str] | None) -> NamespacePlan:
    """The namespace's plan with its change set, and where its repositories came from."""
    indexes, chosen = _read_namespace(client, namespace, repositories)
    plan = compute_namespace_plan(client.registry, namespace, indexes)
    plan = replace(plan, named=None if chosen.source == CATALOG else tuple(chosen.names),
                   notes=tuple(chosen.notes))
    return replace(plan, changes=namespace_change_set(plan, indexes))


def namespace_change_set(plan: NamespacePlan, indexes: Mapping[str, RepositoryIndex], *,
                         confirmed: bool = False, force: bool = False) -> Plan:
    """The namespace's deletion as the change engine applies it: every manifest, indexes
    before their platforms, and every repository's tags as the snapshot. ``confirmed`` (the
    user typed the namespace's name) is the consent to leave its repositories without
    images; protected tags and running containers still need ``force``."""
    target = f"{plan.registry}/{plan.namespace}/"
    change_list = []
    for repo in plan.repositories:
        index = indexes[repo.repository]
        for digest in repo.digests:
            change_list.append(Change(repo.repository, digest, digest, None,
                                      reason=f"namespace {plan.namespace} goes",
                                      size=index.bytes_freed(digest)))
    return Plan(action="remove_namespace", registry=plan.registry, target=target,
                changes=change_list, notes=[plan.describe()], force=force,
                allowed=frozenset({"empties"}) if confirmed else frozenset(),
                snapshot={name: dict(index.tags) for name, index in sorted(indexes.items())})


def _namespace_drift(client: RegistryClient, plan: NamespacePlan) -> list[str]:
    """The repositories that appeared under the namespace, or went, since ``plan`` was made
    (the engine re-checks the tags of those it read; a new repository it cannot see)."""
    target = f"{plan.registry}/{plan.namespace}/"
    try:
        # Read as the plan was: a plan made from named repositories checks those again.
        now = set(_namespace_repositories(client, plan.namespace, plan.named).names)
    except RegistryError as e:
        raise reworded(e, f"cannot read {target} again to check the plan, so nothing was "
                          f"changed: {e}", registry=e.registry or client.registry,
                       reference=target) from e
    seen = {r.repository for r in plan.repositories}
    found = []
    if now - seen:
        found.append(f"new repositories: {', '.join(sorted(now - seen))}")
    if seen - now:
        found.append(f"repositories gone: {', '.join(sorted(seen - now))}")
    return found


def remove_namespace(registry: str, namespace: str, *, confirm: str | None = None,
                     dry_run: bool = False, force: bool = False,
                     plan: NamespacePlan | None = None,
                     repositories: str | Iterable[str] | None = None,
                     progress: ProgressCallback | None = None) -> Result:
    """Delete every image of every repository under ``namespace/`` on ``registry``.

    Refuses (ConfirmationRequired, showing the plan) unless ``confirm`` equals the namespace,
    like typing a repository's name to delete it on GitHub. ``dry_run=True`` returns the plan
    and needs no confirmation. Applied by the change engine: indexes go before their
    platforms, everything is backed up to the journal first, and ``restore(result)`` puts
    it back until garbage collection runs. Protected tags (``protect``) and images of
    running local containers are refused unless ``force=True``.

    ``plan``: a plan from :func:`plan_remove_namespace` that the user saw; exactly it is
    applied, and if the registry moved since (a tag moved, appeared or went, a repository
    appeared under the namespace or went) nothing is deleted and ConfirmationRequired says
    "changed since the plan: ...".

    ``repositories``: as in :func:`plan_remove_namespace` (a registry that refuses its
    catalog: the repositories named, else those remembered for it).
    """
    check_bool("dry_run", dry_run)
    check_bool("force", force)
    check_optional_str("confirm", confirm)
    if plan is not None and (not isinstance(plan, NamespacePlan) or plan.changes is None):
        raise TypeError(f"plan must be a NamespacePlan from plan_remove_namespace(), not "
                        f"{plan!r}; nothing was done")
    client = client_for(registry)
    approved = plan is not None
    with Timer() as timer:
        if plan is None:
            plan = _plan_namespace(client, namespace, repositories)
        elif (plan.registry, plan.namespace) != (client.registry, _valid_namespace(namespace)):
            raise ValueError(f"the plan is for {plan.registry}/{plan.namespace}/, not "
                             f"{client.registry}/{namespace}/; nothing was done")
        assert plan.changes is not None
        target = f"{plan.registry}/{plan.namespace}/"
        details = {
            "registry": plan.registry, "namespace": plan.namespace,
            "repositories": [r.repository for r in plan.repositories],
            "tags_removed": [f"{r.repository}:{t}" for r in plan.repositories for t, _ in r.tags],
            "digests": [f"{r.repository}@{d}" for r in plan.repositories for d in r.digests],
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe(),
            "notes": list(plan.notes)}
        protected = {f"{r.repository}:{t}": p for r in plan.repositories
                     for t, p in protected_tags(plan.registry, r.repository,
                                                [t for t, _ in r.tags]).items()}
        use = local_use()
        users = [(f"{r.repository}@{d}", u) for r in plan.repositories
                 for d in r.digests for u in use.of(plan.registry, r.repository, [d])]
        details.update(protected=protected, in_use_checked=use.checked,
                       in_use=[f"{ref}: {u}" for ref, u in users])
        if dry_run:
            result = Result(action="remove_namespace", target=target, changed=False,
                            dry_run=True, details=details)
            result.duration = timer.elapsed
            return result
        if confirm != plan.namespace:
            said = "no confirmation" if confirm is None else f"confirm={confirm!r}"
            raise ConfirmationRequired(
                f"{plan.describe()}\nNothing was changed ({said}). To delete all of this, pass "
                f'confirm="{plan.namespace}"', registry=plan.registry, reference=target)
        if approved and (moved := _namespace_drift(client, plan)):
            raise ConfirmationRequired(
                f"changed since the plan: {'; '.join(moved)}. Nothing was changed on "
                f"{plan.registry}; make the plan again and review it",
                registry=plan.registry, reference=target)
        # Typing the name is the consent to leave its repositories without images; the
        # changes and the snapshot are the plan's own.
        change_set = replace(plan.changes, allowed=frozenset({"empties"}), force=force)
        result = changes.apply(change_set, progress=progress)
        engine = result.details
        result.details = {**engine, **details, "change_plan": engine["plan"],
                          "deleted": [f"{c.repository}@{c.reference}" for c in change_set.changes
                                      if result.changed]}
    result.duration = timer.elapsed
    return result
