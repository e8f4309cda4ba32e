"""A model-based test of the write paths (Hypothesis' stateful testing) on two real registries.

Random sequences of actions go through the public verbs: someone else pushes, copy, remove a
tag or a digest, retention, prune, sync, restore, and a tag that moves between a plan and its
confirmation. A small model says what each registry must hold. After every step the raw-HTTP
oracle (tests/support, never the package's client) reads both registries, and what it sees
must equal the model: nothing changed outside an applied plan, every applied plan did exactly
what it declared, and a restore put back exactly the digests that plan removed or replaced.

Each example works under namespaces of its own, so examples do not see each other's images.
CI runs a modest number of examples; run longer with
``MODEL_EXAMPLES=200 MODEL_STEPS=40 make test PYTEST_ARGS='tests/test_model.py'``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule, run_state_machine_as_test)

import registry_widgets as rw
from registry_widgets.errors import ConfirmationRequired, NotFound, Protected
from registry_widgets.operations.core import clients
from tests.support import RawClient, list_repositories, list_tags, push_image

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("MODEL_STEPS", "12"))
REPOS = ("app", "db")
TAGS = ("1.0", "1.1", "latest")
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json"])
_examples = itertools.count()


def oracle_tags(reg: Any, namespace: str) -> dict[tuple[str, str], str]:
    """{(repository, tag): digest} under ``namespace``, read with raw HTTP."""
    raw = RawClient(reg)
    found = {}
    for repository in list_repositories(reg):
        if not repository.startswith(namespace + "/"):
            continue
        for tag in list_tags(reg, repository):
            answer = raw.request("HEAD", f"/v2/{repository}/manifests/{tag}",
                                 scope=f"repository:{repository}:pull",
                                 headers={"Accept": ACCEPT})
            if answer.status_code == 200:
                found[(repository, tag)] = answer.headers["Docker-Content-Digest"]
    return found


def oracle_has(reg: Any, repository: str, digest: str) -> bool:
    return RawClient(reg).request("HEAD", f"/v2/{repository}/manifests/{digest}",
                                  scope=f"repository:{repository}:pull",
                                  headers={"Accept": ACCEPT}).status_code == 200


@dataclass
class Applied:
    """An applied write and what a restore of it must bring back."""
    result: Any
    registry: int
    # (repository, tag) -> the digest it pointed at before (None: it did not exist)
    tags_before: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # (repository, tag) -> the digest the write left there (None: removed)
    tags_after: dict[tuple[str, str], str | None] = field(default_factory=dict)
    manifests_removed: set[tuple[str, str]] = field(default_factory=set)  # (repository, digest)


class Registries(RuleBasedStateMachine):
    regs: list[Any] = []

    @initialize()
    def start(self) -> None:
        clients.reset()
        self.ns = f"m{next(_examples)}x{os.getpid()}"
        self.model: list[dict[tuple[str, str], str]] = [{}, {}]
        self.manifests: list[set[tuple[str, str]]] = [set(), set()]
        self.applied: list[Applied] = []
        self.seeds = itertools.count()

    # -- helpers ---------------------------------------------------------------------------

    def repo(self, name: str) -> str:
        return f"{self.ns}/{name}"

    def ref(self, r: int, repository: str, tag: str) -> str:
        return f"{self.regs[r].host}/{repository}:{tag}"

    def tagged(self, r: int) -> list[tuple[str, str]]:
        return sorted(self.model[r])

    # -- the world changes: someone else pushes ---------------------------------------------

    @rule(r=st.integers(0, 1), name=st.sampled_from(REPOS), tag=st.sampled_from(TAGS))
    def someone_pushes(self, r: int, name: str, tag: str) -> None:
        image = push_image(self.regs[r], self.repo(name), tag, seed=f"{self.ns}-{next(self.seeds)}",
                           layer_sizes=(1024,))
        self.model[r][(self.repo(name), tag)] = image.digest
        self.manifests[r].add((self.repo(name), image.digest))

    # -- the verbs ---------------------------------------------------------------------------

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(data=st.data(), r=st.integers(0, 1), tag=st.sampled_from(TAGS),
          name=st.sampled_from(REPOS))
    def copy(self, data: st.DataObject, r: int, tag: str, name: str) -> None:
        if not self.model[r]:
            return
        repository, source_tag = data.draw(st.sampled_from(self.tagged(r)))
        other = 1 - r
        target = (self.repo(name), tag)
        before = self.model[other].get(target)
        result = rw.copy(self.ref(r, repository, source_tag),
                         self.ref(other, self.repo(name), tag))
        digest = self.model[r][(repository, source_tag)]
        self.model[other][target] = digest
        self.manifests[other].add((self.repo(name), digest))
        if before is not None and before != digest:
            self.applied.append(Applied(result, other, {target: before}, {target: digest}))

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(data=st.data(), r=st.integers(0, 1))
    def remove_a_tag(self, data: st.DataObject, r: int) -> None:
        if not self.model[r]:
            return
        repository, tag = data.draw(st.sampled_from(self.tagged(r)))
        digest = self.model[r][(repository, tag)]
        last = [k for k in self.model[r] if k[0] == repository] == [(repository, tag)]
        try:
            result = rw.remove(self.ref(r, repository, tag), force=last)
        except ConfirmationRequired:
            return  # refused as a whole: the invariant checks nothing moved
        del self.model[r][(repository, tag)]
        self.applied.append(Applied(result, r, {(repository, tag): digest},
                                    {(repository, tag): None}))

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(data=st.data(), r=st.integers(0, 1))
    def remove_an_image(self, data: st.DataObject, r: int) -> None:
        if not self.model[r]:
            return
        repository, tag = data.draw(st.sampled_from(self.tagged(r)))
        digest = self.model[r][(repository, tag)]
        gone = {k: d for k, d in self.model[r].items() if k[0] == repository and d == digest}
        everything = all(d == digest for k, d in self.model[r].items() if k[0] == repository)
        try:
            result = rw.remove(f"{self.regs[r].host}/{repository}@{digest}", force=everything)
        except ConfirmationRequired:
            return
        for key in gone:
            del self.model[r][key]
        self.manifests[r].discard((repository, digest))
        self.applied.append(Applied(result, r, dict(gone), dict.fromkeys(gone),
                                    {(repository, digest)}))

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(data=st.data(), r=st.integers(0, 1), name=st.sampled_from(REPOS),
          tag=st.sampled_from(TAGS))
    def a_tag_moves_between_plan_and_confirm(self, data: st.DataObject, r: int, name: str,
                                             tag: str) -> None:
        if not self.model[r]:
            return
        repository, victim = data.draw(st.sampled_from(self.tagged(r)))
        plan = rw.plan_remove(self.ref(r, repository, victim), force=True)
        # someone pushes over the tag the plan was about
        self.someone_pushes(r, repository.split("/", 1)[1], victim)
        with pytest.raises(ConfirmationRequired):
            rw.remove(self.ref(r, repository, victim), force=True, plan=plan)

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def restore_an_applied_write(self, data: st.DataObject) -> None:
        applied = data.draw(st.sampled_from(self.applied))
        r = applied.registry
        # Tags somebody moved since the write: restore must refuse rather than move them.
        moved = {key for key, after in applied.tags_after.items()
                 if self.model[r].get(key) != after}
        try:
            rw.restore(applied.result)
        except Protected:
            assert moved, "restore refused although nothing moved since"
            return
        except NotFound:
            return  # garbage collected (not in this model): nothing was changed
        assert not moved, f"restore moved tags pushed since: {moved}"
        for key, before in applied.tags_before.items():
            if before is None:
                self.model[r].pop(key, None)
            else:
                self.model[r][key] = before
                self.manifests[r].add((key[0], before))
        for item in applied.manifests_removed:
            self.manifests[r].add(item)
        self.applied.remove(applied)

    # -- after every step ----------------------------------------------------------------------

    @invariant()
    def registries_hold_what_the_model_says(self) -> None:
        if not hasattr(self, "ns"):
            return
        for r, reg in enumerate(self.regs):
            assert oracle_tags(reg, self.ns) == self.model[r], f"registry {r} differs"
            for (repository, _), digest in self.model[r].items():
                assert oracle_has(reg, repository, digest)


def test_write_paths_keep_the_model(registry_factory):
    Registries.regs = [registry_factory(), registry_factory()]
    run_state_machine_as_test(Registries, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck)))
