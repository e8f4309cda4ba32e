"""The change engine: every write to a registry as a plan of typed changes, applied in one place.

A verb that writes computes a :class:`Plan`: the changes it would make (each names its
repository, the tag or digest, the digest there now and the digest there after, ``None``
meaning nothing) and a snapshot of every tag its decision was based on. :func:`apply` then,
and only then, writes:

1. reads the registry again: every change's reference and every snapshotted tag must be as the
   plan saw it, or it refuses with "changed since the plan: ..." and writes nothing;
2. checks the guards (:mod:`.guards`: protected tags, running containers, index platforms,
   signatures left behind, a repository emptied) and refuses (Protected, nothing written)
   unless the plan says ``force``; a plan that deletes first probes that the registry allows
   deletes (DeleteDisabled, nothing written);
3. backs up every manifest it will delete or replace, and the tags on them, to the journal
   (synced to disk and read back, or nothing happens);
4. applies the changes on the cancellable worker pool (platforms before the indexes that list
   them when putting, indexes before their platforms when deleting, tags last); a tag delete
   goes through :mod:`.untag` (distribution 2.x has no tag DELETE);
5. reads the registry back: each reference must now be what the plan said it would be, and
   the co-tags of what it touched where they were;
6. journals one record, whose ``backup_id`` :func:`~.backup.restore` undoes.

The same code computes a dry run and a real run (the verb returns the plan for the former),
so the two cannot drift apart, as with Terraform's plan/apply or Kubernetes' server-side dry
run. Only this module sends a manifest DELETE or PUT on behalf of a plan
(tests/test_layers.py::test_only_the_engine_writes_manifests names the others still to move).

Imports ``errors``, ``manifest``, ``progress``, ``reference``, ``registry`` and the core's
``backup``, ``clients``, ``guards``, ``journal``, ``result``, ``untag`` and ``workers``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from concurrent.futures import ThreadPoolExecutor

from ...errors import Cancelled, ConfirmationRequired, NotFound, Protected, RegistryError
from ...manifest import INDEX_TYPES, Manifest
from ...progress import ProgressCallback, ProgressEvent, emit
from ...registry import RegistryClient
from . import guards, journal, untag
from .backup import write_backup
from .clients import client_for
from .result import Result, Timer
from .workers import Pool, Stop

APPLY_WORKERS = 8
READ_WORKERS = 8  # HEADs of a repository's tags side by side while re-reading it


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
    ``notes``: the guards' findings in words. ``force``: apply even what a guard blocks
    (protected tags, running containers, index platforms, an emptied repository);
    ``allowed``: the kinds of finding (``guards.Finding.kind``) the user consented to in
    another way (typing a namespace's name allows emptying its repositories)."""

    action: str
    registry: str
    target: str
    changes: list[Change] = field(default_factory=list)
    snapshot: dict[str, dict[str, str]] = field(default_factory=dict)
    kept: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    made: float = field(default_factory=time.time)
    force: bool = False
    allowed: frozenset[str] = frozenset()  # guard kinds the user consented to otherwise

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
                "bytes_freed": self.bytes_freed, "made": self.made, "force": self.force,
                "allowed": sorted(self.allowed)}


def is_digest_ref(reference: str) -> bool:
    return reference.startswith("sha256:")


def current_digest(client: RegistryClient, repository: str, reference: str) -> str | None:
    head = client.head_manifest(repository, reference)
    return head.digest if head is not None else None


Indexes = dict[tuple[str, str], Manifest]


def _reread(client: RegistryClient, plan: Plan) -> tuple[list[str], Indexes]:
    """What differs now from what the plan saw, and the tagged indexes of its repositories
    (read by digest: the guards ask which platforms they list)."""
    found: list[str] = []
    indexes: Indexes = {}
    # A delete's guards (co-tags, signatures left behind, a repository emptied) need every tag
    # of its repository as the plan saw them; a put needs only its own reference re-read
    # (below), so a copy or a push does not list the target's tags.
    deleting = {c.repository for c in plan.changes if c.after is None}
    for repository in sorted(deleting - set(plan.snapshot)):
        found.append(f"{repository}: the plan did not read its tags, so it cannot be checked")
    for repository, tags in sorted(plan.snapshot.items()):
        try:
            now_tags = sorted(set(client.tags(repository)))
        except RegistryError as e:
            if getattr(e, "status", None) != 404:
                raise
            now_tags = []
        for tag in sorted(set(now_tags) - set(tags)):
            found.append(f"{repository}:{tag} is new")
        with ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix="rw-reread") as pool:
            heads = dict(zip(now_tags, pool.map(
                lambda tag: client.head_manifest(repository, tag), now_tags)))
        for tag, digest in sorted(tags.items()):
            head = heads.get(tag)
            now = head.digest if head is not None else None
            if now != digest:
                found.append(f"{repository}:{tag} " + (f"moved to {now}" if now
                                                       else "was removed"))
        for head in heads.values():
            if head is not None and head.media_type in INDEX_TYPES and \
                    (repository, head.digest) not in indexes:
                try:
                    indexes[(repository, head.digest)] = client.get_manifest(repository,
                                                                             head.digest)
                except NotFound:
                    found.append(f"{repository}@{head.digest} was removed")
    for change in plan.changes:
        now = current_digest(client, change.repository, change.reference)
        if now != change.before:
            sep = "@" if is_digest_ref(change.reference) else ":"
            found.append(f"{change.repository}{sep}{change.reference} is now {now or 'gone'}")
    return found, indexes


def drift(client: RegistryClient, plan: Plan) -> list[str]:
    """What differs now from what the plan saw, in words; empty when nothing moved."""
    return _reread(client, plan)[0]


def _ordered(changes: Sequence[Change], manifests: dict[str, Manifest]) -> list[list[Change]]:
    """Waves of changes, each run in parallel: puts by digest of platforms, then of the
    indexes listing them, then puts of tags; deletes of indexes, then of everything else
    (so a registry never holds an index whose platforms are gone)."""
    deletes = [c for c in changes if c.kind == "delete"]
    puts = [c for c in changes if c.kind != "delete"]
    put_tags = [c for c in puts if not is_digest_ref(c.reference)]
    put_children = [c for c in puts if c not in put_tags
                    and not (c.manifest and c.manifest.children)]
    put_parents = [c for c in puts if c not in put_tags and c not in put_children]
    parents = [c for c in deletes if is_digest_ref(c.reference)
               and (m := manifests.get(c.before or "")) is not None and m.children]
    leaves = [c for c in deletes if c not in parents]
    return [wave for wave in (put_children, put_parents, put_tags, parents, leaves) if wave]


def _refuse(plan: Plan, moved: list[str]) -> None:
    raise ConfirmationRequired(
        f"changed since the plan: {'; '.join(moved[:10])}"
        + (f" and {len(moved) - 10} more" if len(moved) > 10 else "")
        + f". Nothing was changed on {plan.registry}; make the plan again and review it",
        registry=plan.registry, reference=plan.target)


def _check_guards(plan: Plan, indexes: Indexes, result: Result) -> None:
    found = guards.findings(guards.outcome(plan, indexes))
    result.details["findings"] = [f.message for f in found]
    blocking = [f.message for f in found if f.blocking and f.kind not in plan.allowed]
    if blocking and not plan.force:
        raise Protected(f"{plan.action} of {plan.target}: {'; '.join(blocking)}. Nothing was "
                        f"changed on {plan.registry}. Pass force=True to do it anyway",
                        registry=plan.registry, reference=plan.target)
    result.details["overridden"] = blocking  # forced past: what force=True allowed


def _backup(client: RegistryClient, plan: Plan, manifests: dict[str, Manifest]) -> str | None:
    """Journal every manifest a change deletes or replaces, and every tag that goes with it;
    None when the plan only creates (a restore into empty places has nothing to lose)."""
    backup: dict[str, tuple[list[Manifest], list[tuple[str, ...]]]] = {}
    for change in plan.changes:
        if change.before is None:
            continue
        manifest = manifests.get(change.before) or client.get_manifest(
            change.repository, change.before)
        manifests[change.before] = manifest
        entry = backup.setdefault(change.repository, ([], []))
        if all(m.digest != manifest.digest for m in entry[0]):
            entry[0].append(manifest)
        if not is_digest_ref(change.reference):
            # with what a put moves the tag to: restore then knows the tag has not moved since
            entry[1].append((change.reference, change.before, change.after)
                            if change.after else (change.reference, change.before))
        elif change.after is None:  # the tags on a digest that goes: the snapshot names them
            for tag, digest in sorted(plan.snapshot.get(change.repository, {}).items()):
                if digest == change.before and all(x[0] != tag for x in entry[1]):
                    entry[1].append((tag, digest))
    if not backup:
        return None
    verb = "removed" if any(c.after is None for c in plan.changes) else "changed"
    return write_backup(plan.registry, plan.target,
                        [(repo, ms, tags) for repo, (ms, tags) in sorted(backup.items())],
                        undone=f"{plan.target} was not {verb}: nothing was changed")


def _co_tags(plan: Plan, change: Change) -> list[str]:
    """The tags on ``change.before`` that the plan keeps (a tag removal must not take them)."""
    going = {c.reference for c in plan.changes if c.repository == change.repository}
    return sorted(t for t, d in plan.snapshot.get(change.repository, {}).items()
                  if d == change.before and t not in going)


class ManifestWrites:
    """The only manifest PUT and DELETE of the package: the engine's, also handed to
    :mod:`.untag` for the steps of a tag removal."""

    def __init__(self, client: RegistryClient):
        self.client = client

    def put(self, repository: str, reference: str, manifest: Manifest) -> str:
        return self.client.put_manifest(repository, reference, manifest)

    def delete(self, repository: str, reference: str) -> None:
        self.client.delete_manifest(repository, reference)


def write_change(client: RegistryClient, plan: Plan, change: Change, original: Manifest | None,
                 *, backup_id: str, notes: dict[str, Any]) -> str:
    """Carry out one change through the registry client; returns how ("manifest-delete",
    "tag-delete", "placeholder" or "put")."""
    writes = ManifestWrites(client)
    if change.after is None:
        if is_digest_ref(change.reference):
            try:
                writes.delete(change.repository, change.reference)
            except NotFound:  # deleted meanwhile by someone else: the goal holds (verified)
                pass
            return "manifest-delete"
        assert original is not None, "a tag removal knows the manifest it takes the tag off"
        return untag.untag(client, writes, change.repository, change.reference, original,
                           _co_tags(plan, change), backup_id=backup_id, notes=notes)
    assert change.manifest is not None, "a put carries its manifest"
    writes.put(change.repository, change.reference, change.manifest)
    return "put"


def _verify(client: RegistryClient, plan: Plan,
            written: dict[tuple[str, str], str] | None = None) -> tuple[list[str], list[str]]:
    """(as planned, not as planned): each change's reference (against the digest a ``write``
    said it wrote, where one did), and the kept co-tags of every digest a change touched."""
    verified, wrong = [], []
    for change in plan.changes:
        now = current_digest(client, change.repository, change.reference)
        after = (written or {}).get((change.repository, change.reference), change.after)
        (verified if now == after else wrong).append(
            f"{change.repository}@{change.reference}: {now or 'nothing'}")
    deleted = {(c.repository, c.before) for c in plan.changes
               if c.after is None and is_digest_ref(c.reference)}
    kept = sorted({(c.repository, t, c.before or "") for c in plan.changes
                   if c.before and not is_digest_ref(c.reference)
                   and (c.repository, c.before) not in deleted for t in _co_tags(plan, c)})
    for repository, tag, digest in kept:
        now = current_digest(client, repository, tag)
        if now != digest:
            wrong.append(f"{repository}:{tag} (kept by the plan): {now or 'gone'}")
    return verified, wrong


def apply(plan: Plan, *, cancel: threading.Event | None = None,
          progress: ProgressCallback | None = None,
          write: Callable[[Change], str | None] | None = None,
          result: Result | None = None, client: RegistryClient | None = None) -> Result:
    """Apply ``plan`` exactly, or refuse and change nothing (see the module docstring).

    Returns a Result whose ``details`` carry the plan's rows, ``backup_id`` (pass the
    Result to ``restore`` to undo), ``findings`` (the guards'), ``methods`` (how each
    change was carried out) and ``verified`` (the references read back). A plan with
    nothing to change returns ``changed=False`` and ``details["nothing_to_do"]``.

    ``write``: for writes made by another program (the Docker engine's push): it carries out
    each change instead of the registry client and returns the digest it wrote (None: the
    change's ``after``); the engine still re-checks, guards, backs up, verifies and journals.
    ``result``: the verb's own Result (a copy's blob counts, a push's digest), filled in here
    and journaled as the operation's one record; a new one by default. ``client``: the
    registry client to read with (a push given its own credentials); the shared one by default."""
    client = client or client_for(plan.registry)
    if result is None:
        result = Result(action=plan.action, target=plan.target)
    result.details.update({"registry": plan.registry, "plan": plan.to_dict(), "applied": []})
    with Timer() as timer:
        moved, indexes = _reread(client, plan)
        if moved:
            _refuse(plan, moved)
        if not plan.changes:
            result.changed = False
            result.details["nothing_to_do"] = True
            result.duration = timer.elapsed
            return result
        deleting = [c for c in plan.changes if c.after is None]
        if deleting:
            untag.ensure_deletes_enabled(client, ManifestWrites(client),
                                         deleting[0].repository, plan.target)
        _check_guards(plan, indexes, result)
        manifests: dict[str, Manifest] = {}
        backup_id = _backup(client, plan, manifests)
        if backup_id is not None:
            result.details["backup_id"] = backup_id
        stop = Stop(cancel, f"{plan.action} on {plan.registry}")
        applied: list[str] = result.details["applied"]
        methods: dict[str, str] = {}
        result.details["methods"] = methods
        notes: dict[str, Any] = {}
        lock = threading.Lock()

        written: dict[tuple[str, str], str] = {}  # what ``write`` says it wrote

        def carry_out(change: Change) -> None:
            said: dict[str, Any] = {}
            if write is not None:
                digest = write(change)
                how = "by another program"
                if digest:
                    with lock:
                        written[(change.repository, change.reference)] = digest
                        # restore then knows a tag still on this digest has not moved since
                        result.details.setdefault("written", {})[
                            f"{change.repository}:{change.reference}"] = digest
            else:
                how = write_change(client, plan, change, manifests.get(change.before or ""),
                                   backup_id=backup_id or "", notes=said)
            with lock:
                methods[change.describe(plan.registry)] = how
                notes.update(said)
                applied.append(change.describe(plan.registry))
            emit(progress, ProgressEvent(plan.action, id=change.reference, status="done",
                                         current=len(applied), total=len(plan.changes),
                                         message=change.describe(plan.registry)))

        try:
            with Pool(APPLY_WORKERS, f"rw-{plan.action}", stop) as pool:
                for wave in _ordered(plan.changes, manifests):
                    pool.map(carry_out, wave)
        except Cancelled:
            result.details["cancelled"] = True
            result.details.update(notes)
            journal.record(result)
            raise
        except RegistryError as e:
            result.details["failed"] = str(e)
            result.details.update(notes)
            journal.record(result)
            noun = "removals" if all(c.after is None for c in plan.changes) else "changes"
            raise type(e)(f"{e}. {plan.action} of {plan.target} stopped after {len(applied)} of "
                          f"{len(plan.changes)} {noun}; restore({backup_id!r}) puts back what "
                          "was there", registry=e.registry or plan.registry,
                          reference=e.reference or plan.target, status=e.status,
                          code=e.code) from e
        result.details.update(notes)
        verified, wrong = _verify(client, plan, written)
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
