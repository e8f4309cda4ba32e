"""The guards a plan must pass before the change engine applies it, whatever produced it.

:func:`findings` turns a plan (and the registry as the engine has just re-read it) into
:class:`Finding` s: what the plan would break or take along, in words. A blocking finding
stops :func:`~.changes.apply` (Protected, nothing changed) unless the plan says ``force``.
Built in here, needing only the plan and the manifests read:

- ``index-child``: a manifest deleted by digest that a multi-arch index which stays lists as
  a platform (the index would point at a 404);
- ``empties``: a plan that deletes images in a repository and leaves no tag there (every
  image of it goes: retention with ``tags=".*"``, a digest delete of the only image);
- ``accessory``: a deleted image whose signature, attestation or SBOM tag
  (``sha256-<hex>.sig``...) would stay behind, signing nothing;
- ``freed`` (never blocking): the bytes the deletes may free.

The verbs' layer adds the guards that need it (protected tags, running local containers)
with :func:`register`; ``operations.images`` does so on import, and :func:`findings`
refuses to run without them.

Imports ``manifest``, ``reference`` and the core's ``result`` (and ``changes`` for type
hints).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from ...manifest import Manifest
from ...reference import accessory_of
from .result import human_size

if TYPE_CHECKING:
    from .changes import Plan


@dataclass(frozen=True)
class Finding:
    """One thing a plan breaks or takes along; ``blocking`` ones need ``force``."""

    kind: str
    message: str
    blocking: bool = True


@dataclass
class Outcome:
    """What a plan leaves behind, worked out from its changes and its snapshot."""

    plan: "Plan"
    tags_going: dict[str, dict[str, str]] = field(default_factory=dict)
    images_going: dict[str, set[str]] = field(default_factory=dict)
    untagged: dict[str, set[str]] = field(default_factory=dict)  # left with no tag, not deleted
    tags_left: dict[str, dict[str, str]] = field(default_factory=dict)
    indexes: Mapping[tuple[str, str], Manifest] = field(default_factory=dict)


Guard = Callable[[Outcome], list[Finding]]
_registered: dict[str, Guard] = {}
_lock = threading.Lock()
REQUIRED = ("protected", "in-use")


def register(name: str, guard: Guard) -> None:
    """Add (or replace) a guard the engine runs on every plan."""
    with _lock:
        _registered[name] = guard


def outcome(plan: "Plan", indexes: Mapping[tuple[str, str], Manifest]) -> Outcome:
    """What ``plan`` leaves: ``indexes`` are the tagged indexes the engine read, by
    (repository, digest)."""
    out = Outcome(plan, indexes=indexes)
    for change in plan.changes:
        if change.after is not None:
            continue
        if change.reference.startswith("sha256:"):
            out.images_going.setdefault(change.repository, set()).add(change.before or "")
        elif change.before:
            out.tags_going.setdefault(change.repository, {})[change.reference] = change.before
    for repository, tags in plan.snapshot.items():
        gone = out.images_going.get(repository, set())
        going = out.tags_going.setdefault(repository, {})
        for tag, digest in tags.items():
            if digest in gone:
                going[tag] = digest
        left = {t: d for t, d in tags.items() if t not in going}
        out.tags_left[repository] = left
        out.untagged[repository] = {d for d in going.values()
                                    if d not in gone and d not in left.values()}
    return out


def _built_in(out: Outcome) -> list[Finding]:
    plan = out.plan
    found: list[Finding] = []
    for repository, gone in sorted(out.images_going.items()):
        where = f"{plan.registry}/{repository}"
        for (repo, digest), index in sorted(out.indexes.items()):
            if repo != repository or digest in gone:
                continue
            tags = sorted(t for t, d in out.tags_left.get(repo, {}).items() if d == digest)
            for child in index.children:
                if child.digest in gone:
                    found.append(Finding("index-child", (
                        f"{where}@{child.digest} is a platform of the multi-arch index "
                        f"{digest} (tags: {', '.join(tags) or 'none'}); deleting it would "
                        "break that index")))
        left = out.tags_left.get(repository, {})
        for tag, digest in sorted(left.items()):
            subject = accessory_of(tag)
            if subject and subject[0] in gone:
                found.append(Finding("accessory", (
                    f"{where}:{tag} ({subject[1]} of {subject[0][:19]}) would stay behind, "
                    "signing nothing: it goes with its image")))
        images_left = [t for t in left if not accessory_of(t)]
        had = [t for t in plan.snapshot.get(repository, {}) if not accessory_of(t)]
        if gone and had and not images_left:
            found.append(Finding("empties", (
                f"{where} would have no image left: the plan deletes every tagged image of "
                "it")))
    if plan.bytes_freed:
        found.append(Finding("freed", f"up to {human_size(plan.bytes_freed)} freed once the "
                                      "registry collects its garbage", blocking=False))
    return found


def findings(out: Outcome) -> list[Finding]:
    """Every guard's findings on ``out``, built-in ones first."""
    with _lock:
        guards = dict(_registered)
    missing = [name for name in REQUIRED if name not in guards]
    if missing:
        raise RuntimeError(f"the change engine's guards {missing} are not loaded (import "
                           "registry_widgets first); nothing was changed")
    found = _built_in(out)
    for name in sorted(guards):
        found += guards[name](out)
    return found
