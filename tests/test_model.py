"""A model-based test of the write paths (Hypothesis' stateful testing) on two real registries.

Random sequences of actions go through the public verbs: someone else pushes, copy, remove a
tag or a digest, retention, prune, sync, restore, and a tag that moves between a plan and its
confirmation. A small model says what each registry must hold. After every step the raw-HTTP
oracle (tests/support, never the package's client) reads both registries, and what it sees
must equal the model: nothing changed outside an applied plan, every applied plan did exactly
what it declared, and a restore put back exactly the digests that plan removed or replaced.

Each example works under namespaces of its own, so examples do not see each other's images.
CI runs a modest number of examples; run longer with
``MODEL_EXAMPLES=200 MODEL_STEPS=40 make test PYTEST_ARGS='tests/test_model.py'`` (and
``MODEL_SHRINK=1`` to shrink a failing sequence, which replays it many times).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
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


def declared(result: Any) -> list[dict[str, Any]]:
    """The change rows a write's Result declares (the change engine's plan)."""
    plan = result.details.get("change_plan") or result.details.get("plan")
    assert isinstance(plan, dict) and isinstance(plan.get("changes"), list), result.details
    return plan["changes"]


def runner_result(notebook: Path) -> dict[str, Any]:
    """The journal record of the remove a headless notebook applied (what restore takes)."""
    from registry_widgets.operations.core import journal

    records = [r for r in journal.read() if r.get("action") == "remove" and r.get("changed")]
    assert records, f"{notebook} applied no remove"
    return records[-1]


class Registries(RuleBasedStateMachine):
    regs: list[Any] = []
    workdir: Path = Path(".")

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

    def apply_declared(self, r: int, result: Any, scope: str) -> None:
        """Change the model as ``result`` declares, after checking that the plan touched
        nothing outside ``scope`` (a repository prefix) and only what the model holds."""
        before = dict(self.model[r])
        touched: dict[tuple[str, str], str | None] = {}
        removed: set[tuple[str, str]] = set()
        for row in declared(result):
            repository, reference = row["repository"], row["reference"]
            assert repository.startswith(scope), f"{row} is outside {scope}"
            after = row["after"] or None
            if reference.startswith("sha256:"):
                if after is None:
                    removed.add((repository, reference))
                    for key, digest in list(self.model[r].items()):
                        if key[0] == repository and digest == reference:
                            touched[key] = None
                            del self.model[r][key]
                continue
            key = (repository, reference)
            assert (row["before"] or None) == before.get(key), f"{row} did not see the model"
            touched[key] = after
            if after is None:
                self.model[r].pop(key, None)
            else:
                self.model[r][key] = after
        for item in removed:
            self.manifests[r].discard(item)
        if touched or removed:
            self.applied.append(Applied(result, r, {k: before.get(k) for k in touched},
                                        dict(touched), removed))

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

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(r=st.integers(0, 1), keep=st.integers(1, 2))
    def retention_keeps_the_newest(self, r: int, keep: int) -> None:
        if not self.model[r]:
            return  # the namespace does not exist there (retention says so, tested elsewhere)
        target = f"{self.regs[r].host}/{self.ns}"
        preview = rw.retention(target, keep=keep)  # a dry run: nothing may change
        self.registries_hold_what_the_model_says()
        result = rw.retention(target, keep=keep, plan=preview, dry_run=False)
        if result.changed:
            self.apply_declared(r, result, f"{self.ns}/")

    @rule(r=st.integers(0, 1))
    def prune_untagged(self, r: int) -> None:
        result = rw.prune(self.regs[r].host, dry_run=False)
        if not result.changed:
            return
        for row in declared(result):
            if not row["repository"].startswith(self.ns + "/"):
                continue  # another example's namespace: not this model's business
            gone = (row["repository"], row["reference"])
            assert gone not in {(k[0], d) for k, d in self.model[r].items()}, \
                f"prune deleted a tagged manifest {gone}"
            self.manifests[r].discard(gone)
            assert not oracle_has(self.regs[r], *gone)

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(r=st.integers(0, 1))
    def sync_the_namespace(self, r: int) -> None:
        """Everything at or under the namespace goes to <namespace>/mirror on the other
        registry (its own mirror repositories too: sync copies what is under the source)."""
        if not self.model[r]:
            return
        other = 1 - r
        source = f"{self.regs[r].host}/{self.ns}"
        target = f"{self.regs[other].host}/{self.ns}/mirror"
        sources = dict(self.model[r])
        result = rw.sync(source, target, dry_run=False)
        before = dict(self.model[other])
        touched = {}
        for (repository, tag), digest in sources.items():
            key = (f"{self.ns}/mirror/{repository[len(self.ns) + 1:]}", tag)
            self.model[other][key] = digest
            self.manifests[other].add((key[0], digest))
            if before.get(key) not in (None, digest):
                touched[key] = digest
        if touched:
            self.applied.append(Applied(result, other, {k: before[k] for k in touched},
                                        touched))

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(r=st.integers(0, 1))
    def clean_up_tab_plan_then_registry_switch(self, r: int) -> None:
        """The Clean up tab previews on one registry; the dashboard switches to the other;
        Apply must change nothing on either (the invariant checks both)."""
        from registry_widgets.widgets import Dashboard

        if not self.model[r]:
            return
        hosts = [reg.host for reg in self.regs]
        dash = Dashboard(hosts, remember_added=False)
        dash.registry_chooser.value = hosts[r]
        dash.wait(timeout=120)
        panel = dash.cleanup_panel
        panel.namespace_choice.value = self.ns
        panel.keep.value = "1"
        panel.preview_button.click()
        panel.wait(timeout=120)
        dash.registry_chooser.value = hosts[1 - r]
        dash.wait(timeout=120)
        panel.apply_button.click()
        try:
            panel.wait(timeout=120)
        except Exception:  # noqa: BLE001 - the panel shows its own refusal
            pass

    @precondition(lambda self: self.model[0] or self.model[1])
    @rule(data=st.data(), r=st.integers(0, 1))
    def headless_remove_notebook(self, data: st.DataObject, r: int) -> None:
        """05_remove run headless (papermill, a kernel of its own) on a named tag."""
        from registry_widgets import runner

        if not self.model[r]:
            return
        repository, tag = data.draw(st.sampled_from(self.tagged(r)))
        if [k for k in self.model[r] if k[0] == repository] == [(repository, tag)]:
            return  # the last tag of a repository needs force: not this rule's subject
        digest = self.model[r][(repository, tag)]
        out = self.workdir / f"remove-{next(self.seeds)}.ipynb"
        runner.run_notebook("05_remove", {"ref": self.ref(r, repository, tag), "dry_run": False,
                                          "interactive": False}, output=out)
        del self.model[r][(repository, tag)]
        self.applied.append(Applied(runner_result(out), r, {(repository, tag): digest},
                                    {(repository, tag): None}))

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


def test_write_paths_keep_the_model(registry_factory, tmp_path):
    Registries.regs = [registry_factory(), registry_factory()]
    Registries.workdir = tmp_path
    # Shrinking replays steps against real registries: minutes. Off by default (the failing
    # sequence is printed as it ran); MODEL_SHRINK=1 turns it on when debugging.
    phases = [p for p in Phase if os.environ.get("MODEL_SHRINK") or p is not Phase.shrink]
    run_state_machine_as_test(Registries, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, phases=phases,
        suppress_health_check=list(HealthCheck)))
