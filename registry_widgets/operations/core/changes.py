"""The change engine: every write to a registry as a plan of typed changes, applied in one place.

A verb that writes computes a :class:`Plan`: the changes it would make (each names its
repository, the tag or digest, the digest there now and the digest there after, ``None``
meaning nothing) and a snapshot of every tag its decision was based on. :func:`apply` then,
and only then, writes:

1. reads the registry again: every change's reference and every snapshotted tag must be as the
   plan saw it, or it refuses with "changed since the plan: ..." and writes nothing;
2. backs up every manifest it will delete or replace, and the tags on them, to the journal
   (synced to disk and read back, or nothing happens);
3. applies the changes on the cancellable worker pool (indexes before the manifests they
   list, so a registry never holds an index whose children are gone);
4. reads the registry back: each reference must now be what the plan said it would be;
5. journals one record, whose ``backup_id`` :func:`~.backup.restore` undoes.

The same code computes a dry run and a real run (the verb returns the plan for the former),
so the two cannot drift apart, as with Terraform's plan/apply or Kubernetes' server-side dry
run. Only this module sends a manifest DELETE or PUT on behalf of a plan
(tests/test_layers.py::test_only_the_engine_writes_manifests names the others still to move).

Imports ``errors``, ``manifest``, ``progress``, ``registry`` and the core's ``backup``,
``clients``, ``journal``, ``result`` and ``workers``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ...errors import Cancelled, ConfirmationRequired, RegistryError
from ...manifest import Manifest
from ...progress import ProgressCallback, ProgressEvent, emit
from ...registry import RegistryClient
from . import journal
from .backup import write_backup
from .clients import client_for
from .result import Result, Timer
from .workers import Pool, Stop

APPLY_WORKERS = 8


@dataclass(frozen=True)
class Change:
    """One write: ``reference`` (a tag, or a digest) in ``repository`` goes from ``before``
    to ``after`` (digests; ``None`` is "nothing there"). A delete has ``after=None``; a put
    carries the ``manifest`` it writes, whose digest is ``after``."""

    repository: str
    reference: str
    before: str | None
    after: str | None
    reason: str = ""
    manifest: Manifest | None = None
    size: int = 0  # bytes the manifest's image holds (what a delete may free), for the plan

    @property
    def kind(self) -> str:
        return "delete" if self.after is None else ("create" if self.before is None else "replace")

    def describe(self, registry: str) -> str:
        where = f"{registry}/{self.repository}" + (
            f"@{self.reference}" if self.reference.startswith("sha256:") else f":{self.reference}")
        if self.kind == "delete":
            return f"delete {where}" + (f" ({self.reason})" if self.reason else "")
        if self.kind == "create":
            return f"create {where} -> {self.after}"
        return f"replace {where}: {self.before} -> {self.after}"


@dataclass
class Plan:
    """What a verb would change on one registry, and what it saw when it decided.

    ``snapshot``: repository -> {tag: digest} for every tag the decision read (signature
    and attestation tags included); :func:`apply` refuses when any of them moved, appeared
    or went. ``kept``: what the verb chose not to touch and why (rows for the user).
    ``notes``: the guards' findings in words."""

    action: str
    registry: str
    target: str
    changes: list[Change] = field(default_factory=list)
    snapshot: dict[str, dict[str, str]] = field(default_factory=dict)
    kept: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    made: float = field(default_factory=time.time)

    @property
    def bytes_freed(self) -> int:
        return sum(c.size for c in self.changes if c.kind == "delete")

    def rows(self) -> list[dict[str, Any]]:
        """One row per change, for a table."""
        return [{"action": c.kind, "repository": c.repository, "reference": c.reference,
                 "before": c.before or "", "after": c.after or "", "reason": c.reason,
                 "size": c.size} for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "registry": self.registry, "target": self.target,
                "changes": self.rows(), "kept": list(self.kept), "notes": list(self.notes),
                "bytes_freed": self.bytes_freed, "made": self.made}


def current_digest(client: RegistryClient, repository: str, reference: str) -> str | None:
    head = client.head_manifest(repository, reference)
    return head.digest if head is not None else None


def drift(client: RegistryClient, plan: Plan) -> list[str]:
    """What differs now from what the plan saw, in words; empty when nothing moved."""
    found: list[str] = []
    for repository, tags in sorted(plan.snapshot.items()):
        try:
            now_tags = set(client.tags(repository))
        except RegistryError as e:
            if getattr(e, "status", None) != 404:
                raise
            now_tags = set()
        for tag in sorted(now_tags - set(tags)):
            found.append(f"{repository}:{tag} is new")
        for tag, digest in sorted(tags.items()):
            now = current_digest(client, repository, tag) if tag in now_tags else None
            if now != digest:
                found.append(f"{repository}:{tag} " + (f"now points at {now}" if now
                                                       else "was removed"))
    for change in plan.changes:
        now = current_digest(client, change.repository, change.reference)
        if now != change.before:
            sep = "@" if change.reference.startswith("sha256:") else ":"
            found.append(f"{change.repository}{sep}{change.reference} is now {now or 'gone'}")
    return found


def _ordered(changes: Sequence[Change], manifests: dict[str, Manifest]) -> list[list[Change]]:
    """Waves of changes: deletes of indexes before the deletes of what they list, puts of
    children before the indexes that list them. Each wave runs in parallel."""
    deletes = [c for c in changes if c.kind == "delete"]
    puts = [c for c in changes if c.kind != "delete"]
    parents = [c for c in deletes if manifests.get(c.before or "") is not None
               and manifests[c.before or ""].children]
    leaves = [c for c in deletes if c not in parents]
    put_children = [c for c in puts if not (c.manifest and c.manifest.children)]
    put_parents = [c for c in puts if c not in put_children]
    return [wave for wave in (put_children, put_parents, parents, leaves) if wave]


def apply(plan: Plan, *, cancel: threading.Event | None = None,
          progress: ProgressCallback | None = None,
          write: Callable[[Change], str | None] | None = None,
          result: Result | None = None) -> Result:
    """Apply ``plan`` exactly, or refuse and change nothing (see the module docstring).

    Returns a Result whose ``details`` carry the plan's rows, ``backup_id`` (pass the
    Result to ``restore`` to undo) and ``verified`` (the references read back).

    ``write``: for writes made by another program, e.g. the Docker engine's push: it carries
    out each change instead of the registry client and returns the digest it wrote (None:
    the change's ``after``); the engine still re-checks, backs up, verifies and journals.
    ``result``: the verb's own Result (a copy's blob counts, a push's digest), filled in
    here and journaled as the operation's one record; a new one by default."""
    client = client_for(plan.registry)
    if result is None:
        result = Result(action=plan.action, target=plan.target)
    result.details.update({"registry": plan.registry, "plan": plan.to_dict(), "applied": []})
    with Timer() as timer:
        moved = drift(client, plan)
        if moved:
            raise ConfirmationRequired(
                f"changed since the plan: {'; '.join(moved[:10])}"
                + (f" and {len(moved) - 10} more" if len(moved) > 10 else "")
                + f". Nothing was changed on {plan.registry}; make the plan again and review it",
                registry=plan.registry, reference=plan.target)
        if not plan.changes:
            result.changed = False
            result.duration = timer.elapsed
            return result
        manifests: dict[str, Manifest] = {}
        backup: dict[str, tuple[list[Manifest], list[tuple[str, str]]]] = {}
        for change in plan.changes:
            if change.before is None:
                continue
            manifest = manifests.get(change.before) or client.get_manifest(
                change.repository, change.before)
            manifests[change.before] = manifest
            entry = backup.setdefault(change.repository, ([], []))
            if all(m.digest != manifest.digest for m in entry[0]):
                entry[0].append(manifest)
            if not change.reference.startswith("sha256:"):
                # what a put moves the tag to: restore then knows the tag has not moved since
                entry[1].append((change.reference, change.before, change.after))
            # tags on a digest that goes: the plan's snapshot names them
            for tag, digest in plan.snapshot.get(change.repository, {}).items():
                if digest == change.before and change.after is None and \
                        change.reference.startswith("sha256:") and (tag, digest) not in entry[1]:
                    entry[1].append((tag, digest))
        if backup:  # a plan of creates only replaces nothing: no backup to undo
            result.details["backup_id"] = write_backup(
                plan.registry, plan.target,
                [(repo, ms, tags) for repo, (ms, tags) in sorted(backup.items())],
                undone="nothing was changed")
        stop = Stop(cancel, f"{plan.action} on {plan.registry}")
        applied: list[str] = result.details["applied"]
        written: dict[tuple[str, str], str] = {}  # what ``write`` says it wrote

        def carry_out(change: Change) -> None:
            if write is not None:
                digest = write(change)
                if digest:
                    written[(change.repository, change.reference)] = digest
            elif change.after is None:
                client.delete_manifest(change.repository, change.before or change.reference)
            else:
                assert change.manifest is not None, "a put carries its manifest"
                client.put_manifest(change.repository, change.reference, change.manifest)
            applied.append(change.describe(plan.registry))
            emit(progress, ProgressEvent(plan.action, id=change.reference, status="done",
                                         message=change.describe(plan.registry)))

        try:
            with Pool(APPLY_WORKERS, f"rw-{plan.action}", stop) as pool:
                for wave in _ordered(plan.changes, manifests):
                    pool.map(carry_out, wave)
        except Cancelled:
            result.details["cancelled"] = True
            journal.record(result)
            raise
        verified = []
        wrong = []
        for change in plan.changes:
            now = current_digest(client, change.repository, change.reference)
            after = written.get((change.repository, change.reference), change.after)
            (verified if now == after else wrong).append(
                f"{change.repository}@{change.reference}: {now or 'nothing'}")
        result.details["verified"] = verified
        if wrong:
            result.details["not_as_planned"] = wrong
            journal.record(result)
            raise RegistryError(
                f"{plan.registry} does not show what was applied: {'; '.join(wrong[:5])}. "
                "The backup is in the journal; restore(result) puts back what was there",
                registry=plan.registry, reference=plan.target)
    # a verb's own Result counts from when the verb began (its blobs, its push)
    result.duration = max(timer.elapsed, time.time() - result.started)
    result.changed = True
    journal.record(result)
    return result


def preview(plan: Plan) -> Result:
    """The dry-run Result of ``plan``: the same rows :func:`apply` would apply, nothing sent."""
    result = Result(action=plan.action, target=plan.target, changed=False, dry_run=True,
                    details={"registry": plan.registry, "plan": plan.to_dict()})
    return result


def unique(changes: Iterable[Change]) -> list[Change]:
    seen: set[tuple[str, str]] = set()
    out = []
    for c in changes:
        if (c.repository, c.reference) not in seen:
            seen.add((c.repository, c.reference))
            out.append(c)
    return out
