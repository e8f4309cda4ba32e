"""sync(): whole namespaces between real registries, plan first, filters, keep-going, rerun.

The target is checked with skopeo and the raw-HTTP oracle, never with the package's client.
The tag regex is compared with ``skopeo sync``'s ``images-by-tag-regex`` on the same source.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

import registry_widgets as rw
from registry_widgets.errors import BadReference, Cancelled, InvalidArgument, NotFound
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images.copy import copy
from registry_widgets.operations.mirror import sync as sync_module
from registry_widgets.operations.mirror.sync import sync
from tests.support.faultproxy import Corrupt, Delay
from tests.support.images import push_image, push_index
from tests.support.oracle import RawClient, list_repositories, list_tags

pytest_plugins = ["faults_fixtures"]  # fresh clients for every test, and the fault proxy


def skopeo_digest(host: str, repository: str, tag: str) -> str:
    """The digest of the manifest skopeo, an independent client, reads at the target."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{host}/{repository}:{tag}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def name() -> str:
    return f"sync-{secrets.token_hex(3)}"


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


def by_status(result) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in result.details["images"]:
        out.setdefault(row["status"], set()).add(f"{row['repository']}:{row['reference']}")
    return out


@pytest.fixture
def namespace(registry):
    """``ns/app`` with co-tags 1.0 and latest, 2.0, and the cosign signature tag of 1.0;
    ``ns/multi:1.0``, a two-platform index. Layers are shared between images."""
    ns = name()
    shared = b"shared layer " * 100
    when = "2024-01-01T00:00:00Z"  # the same config: "latest" is a co-tag of "1.0"
    one = push_image(registry, f"{ns}/app", "1.0", layers=[shared, b"one" * 50], created=when)
    assert push_image(registry, f"{ns}/app", "latest", layers=[shared, b"one" * 50],
                      created=when).digest == one.digest
    two = push_image(registry, f"{ns}/app", "2.0", layers=[shared, b"two" * 50])
    sig = push_image(registry, f"{ns}/app", signature_tag(one.digest), layers=[b"signature"])
    amd64 = push_image(registry, f"{ns}/multi", None, layers=[shared])
    arm64 = push_image(registry, f"{ns}/multi", None, layers=[shared, b"arm"],
                       platform=("linux", "arm64"))
    index = push_index(registry, f"{ns}/multi", "1.0", [amd64, arm64])
    return {"ns": ns, "app:1.0": one.digest, "app:latest": one.digest, "app:2.0": two.digest,
            f"app:{signature_tag(one.digest)}": sig.digest, "multi:1.0": index}


def test_sync_mirrors_a_namespace_with_cotags_an_index_and_a_signature_then_reruns_nothing(
        registry, registry_b, namespace):
    mirror = name()
    result = sync(f"{registry.host}/{namespace['ns']}", f"{registry_b.host}/{mirror}")

    expected = {k: v for k, v in namespace.items() if k != "ns"}
    for image, digest in expected.items():
        repo, tag = image.split(":")
        assert skopeo_digest(registry_b.host, f"{mirror}/{repo}", tag) == digest, image
    assert sorted(r for r in list_repositories(registry_b) if r.startswith(mirror)) == \
        [f"{mirror}/app", f"{mirror}/multi"]
    assert result.details["counts"] == {"copied": 5}
    kinds = {row["reference"]: row["kind"] for row in result.details["images"]}
    assert kinds[signature_tag(namespace["app:1.0"])] == "signature"
    assert result.bytes_moved > 0 and result.changed
    record = [r for r in journal.read() if r["action"] == "sync"][-1]
    assert record["details"]["counts"] == {"copied": 5}

    seen = {repo: {tag: skopeo_digest(registry_b.host, f"{mirror}/{repo}", tag)
                   for tag in list_tags(registry_b, f"{mirror}/{repo}")}
            for repo in ("app", "multi")}
    records = len(list(journal.read()))

    again = sync(f"{registry.host}/{namespace['ns']}", f"{registry_b.host}/{mirror}")
    assert again.details["counts"] == {"skipped": 5}
    assert again.bytes_moved == 0 and not again.changed
    # What the target holds after the rerun, read by skopeo: the same tags, the same digests,
    # nothing nested (the mirror is not mirrored into itself), and no backup was written.
    assert {repo: {tag: skopeo_digest(registry_b.host, f"{mirror}/{repo}", tag)
                   for tag in list_tags(registry_b, f"{mirror}/{repo}")}
            for repo in ("app", "multi")} == seen
    assert sorted(r for r in list_repositories(registry_b) if r.startswith(mirror)) == \
        [f"{mirror}/app", f"{mirror}/multi"]
    assert [r["action"] for r in list(journal.read())[records:]] == ["sync"]


def test_dry_run_plans_copy_skip_and_replace_with_bytes_and_sends_no_write(registry, registry_b,
                                                                         namespace):
    mirror = name()
    # One tag already there, one there with other content: skip and replace.
    copy(f"{registry.host}/{namespace['ns']}/app:2.0", f"{registry_b.host}/{mirror}/app:2.0")
    copy(f"{registry.host}/{namespace['ns']}/app:2.0", f"{registry_b.host}/{mirror}/app:1.0")

    plan = sync(f"{registry.host}/{namespace['ns']}/app", f"{registry_b.host}/{mirror}",
                dry_run=True)

    actions = {row["reference"]: row["action"] for row in plan.details["images"]}
    assert actions == {"1.0": "replace", "2.0": "skip", "latest": "copy",
                       signature_tag(namespace["app:1.0"]): "copy"}
    sizes = {row["reference"]: row["bytes"] for row in plan.details["images"]}
    assert sizes["latest"] > 0 and sizes["2.0"] == 0
    assert plan.dry_run and not plan.changed
    assert sorted(list_tags(registry_b, f"{mirror}/app")) == ["1.0", "2.0"]
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "1.0") == namespace["app:2.0"]


def test_replaced_tags_are_backed_up_once_and_restore_puts_them_back_without_force(
        registry, registry_b, namespace):
    mirror = name()
    for tag in ("1.0", "latest"):
        copy(f"{registry.host}/{namespace['ns']}/app:2.0", f"{registry_b.host}/{mirror}/app:{tag}")

    result = sync(f"{registry.host}/{namespace['ns']}/app", f"{registry_b.host}/{mirror}",
                  tags=r"^(1\.0|latest)$")

    assert by_status(result)["replaced"] == {f"{namespace['ns']}/app:1.0",
                                             f"{namespace['ns']}/app:latest"}
    for tag in ("1.0", "latest"):
        assert skopeo_digest(registry_b.host, f"{mirror}/app", tag) == namespace["app:1.0"]
    # Each replaced tag is in exactly one backup record (the engine's, as its copy replaced it).
    backed_up = [t["tag"] for r in journal.read() if r["action"] == "remove-backup"
                 for repo in r["repositories"] if repo["repository"] == f"{mirror}/app"
                 for t in repo["tags"]]
    assert sorted(backed_up) == ["1.0", "latest"]

    rw.restore(result)  # no force: the tags still point where the sync put them

    for tag in ("1.0", "latest"):
        assert skopeo_digest(registry_b.host, f"{mirror}/app", tag) == namespace["app:2.0"]


def test_a_tag_that_moved_since_the_plan_is_not_overwritten(registry, registry_b, namespace):
    mirror = name()
    copy(f"{registry.host}/{namespace['ns']}/app:2.0", f"{registry_b.host}/{mirror}/app:1.0")
    task = sync_module.RepositoryTask(registry.host, f"{namespace['ns']}/app", registry_b.host,
                                      f"{mirror}/app", tags=r"^1\.0$")
    [image] = [i for i in sync_module.plan_repository(task).images if i.reference == "1.0"]
    assert image.action == "replace"
    # Someone pushes between the plan and the copy: the copy re-reads the tag first.
    later = push_image(registry_b, f"{mirror}/app", "1.0", layers=[b"pushed meanwhile"])

    outcome = sync_module.apply_repository(task, (image,))

    assert outcome.images[0]["status"] == "failed"
    assert "changed since the plan" in outcome.images[0]["error"]
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "1.0") == later.digest

# -- applying a reviewed plan (plan=) -----------------------------------------------------

def test_applying_a_plan_copies_exactly_what_it_listed_and_nothing_pushed_since(
        registry, registry_b, namespace, fault_proxy):
    ns, mirror = namespace["ns"], name()
    proxy = fault_proxy(registry)  # the source, seen through a proxy that logs every request
    source, target = f"{proxy.host}/{ns}", f"{registry_b.host}/{mirror}"
    plan = sync(source, target, tags=r"^[12]\.", dry_run=True)
    sig = signature_tag(namespace["app:1.0"])
    assert by_status(plan) == {"copy": {f"{ns}/app:1.0", f"{ns}/app:2.0", f"{ns}/app:{sig}",
                                        f"{ns}/multi:1.0"}}
    # After the review: a tag the filter selects, a new repository, and 2.0 pushed again.
    push_image(registry, f"{ns}/app", "1.5", layers=[b"pushed after the preview"])
    push_image(registry, f"{ns}/late", "1.0", layers=[b"a repository after the preview"])
    moved = push_image(registry, f"{ns}/app", "2.0", layers=[b"2.0 pushed again"])
    proxy.clear()
    kept = json.loads(json.dumps(plan.details))  # a plan saved as JSON and read back

    result = sync(source, target, tags=r"^[12]\.", plan=kept)

    assert sorted(list_tags(registry_b, f"{mirror}/app")) == sorted(["1.0", "2.0", sig])
    assert list_tags(registry_b, f"{mirror}/multi") == ["1.0"]
    assert f"{mirror}/late" not in list_repositories(registry_b)
    # 2.0 as the preview showed it, not as it was pushed since.
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "2.0") == namespace["app:2.0"] \
        != moved.digest
    assert skopeo_digest(registry_b.host, f"{mirror}/multi", "1.0") == namespace["multi:1.0"]
    assert result.details["counts"] == {"copied": 4} and result.details["from_plan"]
    # It did not plan again: no catalog and no tag list of the source was read.
    assert not proxy.exchanges("GET", r"/_catalog|/tags/list"), proxy.log


def test_a_target_tag_that_moved_since_the_reviewed_plan_fails_alone(registry, registry_b,
                                                                     namespace):
    source, mirror = f"{registry.host}/{namespace['ns']}/app", name()
    plan = sync(source, f"{registry_b.host}/{mirror}", tags=r"^[12]\.0$", dry_run=True)
    later = push_image(registry_b, f"{mirror}/app", "2.0", layers=[b"pushed meanwhile"])

    result = sync(source, f"{registry_b.host}/{mirror}", tags=r"^[12]\.0$", plan=plan)

    rows = {row["reference"]: row for row in result.details["images"]}
    assert rows["2.0"]["status"] == "failed"
    assert "changed since the plan" in rows["2.0"]["error"]
    assert rows["1.0"]["status"] == "copied"
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "2.0") == later.digest
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "1.0") == namespace["app:1.0"]


def _tampered(plan):
    details = json.loads(json.dumps(plan.details))
    details["images"][0]["target"] = details["images"][0]["target"].replace("/app:", "/other:")
    return details


@pytest.mark.parametrize("call, error, message", [
    ({"target": "{b}/elsewhere"}, InvalidArgument, "is the plan of sync .* not of sync"),
    ({"source": "{a}/{ns}/app"}, InvalidArgument, "is the plan of sync .* not of sync"),
    ({"tags": "^1"}, InvalidArgument, r"other options \(tags="),
    ({"semver": "^1"}, InvalidArgument, r"other options \(semver="),
    ({"accessories": False}, InvalidArgument, r"other options \(accessories="),
    ({"dry_run": True}, InvalidArgument, "drop dry_run=True"),
    ({"plan": "a real run"}, InvalidArgument, "a sync that ran, not of a dry run"),
    ({"plan": "a copy"}, InvalidArgument, "not the result of a sync"),
    ({"plan": "edited"}, InvalidArgument, "pass the dry run's result unchanged"),
    ({"plan": 42}, TypeError, "plan must be the Result of sync"),
], ids=["other-target", "other-source", "tags", "semver", "accessories", "dry-run",
        "not-a-dry-run", "not-a-sync", "edited", "not-a-plan"])
def test_a_plan_that_is_not_this_syncs_dry_run_is_refused_and_nothing_is_sent(
        registry, registry_b, namespace, fault_proxy, call, error, message):
    ns = namespace["ns"]
    proxy = fault_proxy(registry)
    source, target = f"{proxy.host}/{ns}", f"{registry_b.host}/{name()}"
    plan = sync(source, target, dry_run=True)
    plans = {"a real run": lambda: sync(source, f"{registry_b.host}/{name()}"),
             "a copy": lambda: copy(f"{registry.host}/{ns}/app:1.0",
                                    f"{registry_b.host}/{name()}/app:1.0"),
             "edited": lambda: _tampered(plan)}
    given = call.get("plan", plan)
    given = plans[given]() if isinstance(given, str) else given
    args = {"source": source, "target": target, **call, "plan": given}
    args["source"] = args["source"].format(a=proxy.host, ns=ns)
    args["target"] = args["target"].format(b=registry_b.host)
    before = _every_tag(registry_b)
    proxy.clear()

    with pytest.raises(error, match=message) as caught:
        sync(**args)

    assert "nothing was done" in str(caught.value)
    assert not proxy.log  # refused before any request to the source
    assert _every_tag(registry_b) == before


def _every_tag(reg) -> dict[str, list[str]]:
    """Each repository's tags, read with raw HTTP. The registry is shared by the session: a
    repository whose tags other tests removed stays in the catalog and answers 404."""
    found = {}
    for repository in list_repositories(reg):
        answer = RawClient(reg).request("GET", f"/v2/{repository}/tags/list",
                                        scope=f"repository:{repository}:pull")
        found[repository] = sorted(answer.json().get("tags") or []) \
            if answer.status_code == 200 else []
    return found


@pytest.fixture
def versions(registry):
    """One repository whose tags are versions and not, with created times a day apart."""
    repo = f"{name()}/tool"
    tags = ["1.0.0", "1.2.0", "1.10.0", "v1.5.0", "1.2.0-rc1", "2.0.0", "latest", "nightly"]
    for day, tag in enumerate(tags, 1):
        push_image(registry, repo, tag, layers=[b"base layer", tag.encode()],
                   created=f"2024-03-{day:02d}T00:00:00Z")
    return repo, tags


def skopeo_sync(source_host: str, repository: str, regex: str, destination: str,
                tmp_path: Path) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text(yaml.safe_dump({source_host: {
        "tls-verify": False, "images-by-tag-regex": {repository: regex}}}))
    subprocess.run(["skopeo", "sync", "--all", "--src", "yaml", "--dest", "docker",
                    "--dest-tls-verify=false", str(config), destination],
                   check=True, capture_output=True, timeout=120)


def test_tag_regex_selects_what_skopeo_sync_selects(registry, registry_b, versions, tmp_path):
    repo, _ = versions
    regex = r"^v?1\.[0-9]+\.0$"
    ours, theirs = name(), name()

    result = sync(f"{registry.host}/{repo}", f"{registry_b.host}/{ours}", tags=regex)
    skopeo_sync(registry.host, repo, regex, f"{registry_b.host}/{theirs}", tmp_path)

    skopeo_tags = sorted(list_tags(registry_b, f"{theirs}/tool"))  # unscoped: last component
    assert skopeo_tags == ["1.0.0", "1.10.0", "1.2.0", "v1.5.0"]
    assert sorted(list_tags(registry_b, f"{ours}/tool")) == skopeo_tags
    assert result.details["counts"] == {"copied": 4}


@pytest.mark.parametrize("semver, latest, expected", [
    ("^1.2", None, ["1.10.0", "1.2.0", "v1.5.0"]),  # a pre-release is not in a range
    ("1.x", None, ["1.0.0", "1.10.0", "1.2.0", "v1.5.0"]),
    (">=1.2.0-rc1 <1.3", None, ["1.2.0", "1.2.0-rc1"]),  # unless the range names one
    (None, 2, ["latest", "nightly"]),  # the two pushed last
    (">=1", 2, ["2.0.0", "v1.5.0"]),  # the newest two versions by created time
], ids=["caret", "x-range", "pre-release", "latest", "range-then-latest"])
def test_semver_and_latest_select_tags(registry, versions, semver, latest, expected):
    repo, _ = versions
    plan = sync(f"{registry.host}/{repo}", f"{registry.host}/{name()}/tool", semver=semver,
                latest=latest, dry_run=True)
    assert sorted(row["reference"] for row in plan.details["images"]) == expected


def test_sync_keeps_going_past_a_corrupt_blob_and_a_rerun_copies_only_the_rest(
        registry, registry_b, fault_proxy):
    ns, mirror = name(), name()
    good = [push_image(registry, f"{ns}/good{i}", "1.0", layers=[f"good {i}".encode() * 40])
            for i in range(2)]
    bad = push_image(registry, f"{ns}/bad", "1.0", layers=[b"bad layer " * 40])
    proxy = fault_proxy(registry)
    proxy.add_rule("GET", bad.layers[0].digest, Corrupt(offset=5), times=None)

    first = sync(f"{proxy.host}/{ns}", f"{registry_b.host}/{mirror}")

    statuses = by_status(first)
    assert statuses["failed"] == {f"{ns}/bad:1.0"}
    assert statuses["copied"] == {f"{ns}/good0:1.0", f"{ns}/good1:1.0"}
    failed = next(row for row in first.details["images"] if row["status"] == "failed")
    assert bad.layers[0].digest in failed["error"] or "digest" in failed["error"]
    for image in good:
        assert skopeo_digest(registry_b.host, f"{mirror}/{image.repository.split('/')[1]}",
                             "1.0") == image.digest

    proxy.clear()
    second = sync(f"{proxy.host}/{ns}", f"{registry_b.host}/{mirror}")
    assert by_status(second) == {"copied": {f"{ns}/bad:1.0"},
                                 "skipped": {f"{ns}/good0:1.0", f"{ns}/good1:1.0"}}
    assert skopeo_digest(registry_b.host, f"{mirror}/bad", "1.0") == bad.digest
    # The rerun asked the source for the one missing image's blobs only.
    assert {e.path.rsplit("/", 1)[1] for e in proxy.exchanges("GET", r"/blobs/")} <= \
        {bad.config.digest, bad.layers[0].digest}


class RecordingExecutor(ThreadPoolExecutor):
    """A thread pool that pickles every task's arguments as a Dask client would send them."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.pickles: list[bytes] = []

    def submit(self, fn, /, *args, **kwargs):
        self.pickles.append(pickle.dumps((fn, args, kwargs)))
        return super().submit(fn, *args, **kwargs)


def test_task_arguments_carry_no_credentials(basic_registry):
    secret = basic_registry.password
    clients.configure(basic_registry.host, credentials=(basic_registry.username, secret),
                      ca_bundle=str(basic_registry.ca_file))
    ns = name()
    push_image(basic_registry, f"{ns}/app", "1.0", layers=[b"private"])

    with RecordingExecutor() as pool:
        result = sync(f"{basic_registry.host}/{ns}", f"{basic_registry.host}/{name()}",
                      executor=pool)

    assert result.details["counts"] == {"copied": 1}
    assert len(pool.pickles) == 2  # one plan unit and one copy unit
    for data in pool.pickles:
        assert secret.encode() not in data
        assert secret.encode().hex().encode() not in data
    journal_text = journal.journal_path().read_text()
    assert secret not in journal_text


def test_single_copy_brings_the_signature_tag_along(registry, registry_b, namespace):
    target = f"{name()}/app"
    result = copy(f"{registry.host}/{namespace['ns']}/app:1.0", f"{registry_b.host}/{target}:1.0",
                  accessories=True)

    sig = signature_tag(namespace["app:1.0"])
    assert skopeo_digest(registry_b.host, target, sig) == namespace[f"app:{sig}"]
    assert [a["kind"] for a in result.details["accessories"]] == ["signature"]
    assert sorted(list_tags(registry_b, target)) == sorted(["1.0", sig])


@pytest.mark.parametrize("kwargs, error", [
    ({"source": "{a}/ns/app:1.0"}, BadReference),
    ({"tags": "(unclosed"}, ValueError),
    ({"semver": "about two"}, InvalidArgument),
    ({"semver": ">=1.2,<2"}, InvalidArgument),  # PEP 440: npm ranges only
    ({"latest": 0}, ValueError),
    ({"accessories": "yes"}, TypeError),
    ({"executor": "dask"}, TypeError),
    ({"platforms": 5}, TypeError),
    ({"source": "{a}/nothing-here"}, NotFound),
])
def test_bad_input_gets_one_clear_error_and_changes_nothing(registry, registry_b, kwargs, error):
    args = {"source": "{a}/ns", "target": "{b}/mirror", **kwargs}
    args["source"] = args["source"].format(a=registry.host)
    args["target"] = args["target"].format(b=registry_b.host)
    before = list_repositories(registry_b)
    with pytest.raises(error, match="nothing"):
        sync(**args)
    assert list_repositories(registry_b) == before


@pytest.mark.parametrize("inside", ["{ns}/mirror", "{ns}/app/again"])
def test_a_target_inside_its_source_is_refused_before_anything_runs(registry, namespace, inside):
    source = f"{registry.host}/{namespace['ns']}"
    before = list_repositories(registry)
    with pytest.raises(ValueError, match="inside the source") as caught:
        sync(source, f"{registry.host}/" + inside.format(ns=namespace["ns"]))
    assert "Nothing was done" in str(caught.value)
    assert list_repositories(registry) == before


REPOSITORIES = 16  # twice the repositories the default pool runs at once


@pytest.fixture
def many(registry, fault_proxy):
    """``REPOSITORIES`` small repositories behind a proxy that slows every source blob GET,
    so a sync is still running when it is stopped: (source path on the proxy, proxy)."""
    ns = name()
    for i in range(REPOSITORIES):
        push_image(registry, f"{ns}/r{i:02d}", "1.0", layers=[f"repository {i}".encode() * 30])
    proxy = fault_proxy(registry)
    proxy.add_rule("GET", r"/blobs/sha256:", Delay(seconds=0.5), times=None)
    return f"{proxy.host}/{ns}", proxy


def mirrored(registry_b, mirror: str) -> set[str]:
    """The repositories the oracle sees a tag in under ``mirror`` (a stopped copy can leave
    a repository with blobs and no tag: the registry lists it, its tag list is a 404)."""
    def tagged(repository: str) -> bool:
        try:
            return bool(list_tags(registry_b, repository))
        except RuntimeError:
            return False
    return {r for r in list_repositories(registry_b) if r.startswith(mirror + "/") and tagged(r)}


def test_a_cancel_event_stops_a_sync_and_a_rerun_completes_it(registry_b, many):
    source, proxy = many
    mirror = name()
    cancel = threading.Event()

    def press_cancel_after_the_first_repository(event) -> None:
        if event.id and event.status == "copied":
            cancel.set()

    with pytest.raises(Cancelled, match="Run the same sync again"):
        sync(source, f"{registry_b.host}/{mirror}", cancel=cancel,
             progress=press_cancel_after_the_first_repository)

    # The repositories the pool had not started when the cancel came were never written.
    stopped = mirrored(registry_b, mirror)
    assert 1 <= len(stopped) < REPOSITORIES
    proxy.clear()
    again = sync(source, f"{registry_b.host}/{mirror}")
    assert len(mirrored(registry_b, mirror)) == REPOSITORIES
    assert again.details["counts"].get("failed", 0) == 0


def test_ctrl_c_stops_a_sync_and_leaves_the_repositories_not_started(registry_b, many):
    source, proxy = many
    mirror = name()
    script = (f"from registry_widgets.operations.mirror.sync import sync; "
              f"sync({source!r}, {f'{registry_b.host}/{mirror}'!r})")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        while child.poll() is None and not mirrored(registry_b, mirror):
            time.sleep(0.05)  # polling the oracle for the first repository, not timing
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    assert "Run the same sync again" in err
    # The process is gone: what the target holds now is all it will ever get from that run.
    assert 1 <= len(mirrored(registry_b, mirror)) < REPOSITORIES


# -- the notebook and the panel --------------------------------------------------------------

def test_notebook_08_sync_runs_headless_and_lists_every_outcome(registry, registry_b, namespace,
                                                                tmp_path):
    import nbformat

    from registry_widgets.runner import run_notebook

    mirror = name()
    out = run_notebook("08_sync", {"source": f"{registry.host}/{namespace['ns']}",
                                   "target": f"{registry_b.host}/{mirror}", "tags": "^1",
                                   "dry_run": False, "interactive": False},
                      output=tmp_path / "08_sync.ipynb")

    cell = nbformat.read(out, as_version=4).cells[-1]
    record = json.loads("".join(o.get("text", "") for o in cell.outputs
                                if o.output_type == "stream"))
    assert sorted(record["images"]["copied"]) == sorted([
        f"{registry.host}/{namespace['ns']}/app:1.0",
        f"{registry.host}/{namespace['ns']}/app:{signature_tag(namespace['app:1.0'])}",
        f"{registry.host}/{namespace['ns']}/multi:1.0"])
    assert skopeo_digest(registry_b.host, f"{mirror}/multi", "1.0") == namespace["multi:1.0"]
    assert list_tags(registry_b, f"{mirror}/app").count("2.0") == 0


def test_notebook_08_sync_exits_non_zero_when_an_image_failed(registry, registry_b, tmp_path,
                                                              fault_proxy):
    import papermill

    from registry_widgets.runner import run_notebook

    ns = name()
    image = push_image(registry, f"{ns}/app", "1.0", layers=[b"will not arrive"])
    proxy = fault_proxy(registry)
    proxy.add_rule("GET", image.layers[0].digest, Corrupt(offset=1), times=None)
    # The kernel is another process: it reaches the proxy with its default client options.
    with pytest.raises(papermill.PapermillExecutionError, match="SyncIncomplete"):
        run_notebook("08_sync", {"source": f"{proxy.host}/{ns}", "target":
                                 f"{registry_b.host}/{name()}", "dry_run": False,
                                 "interactive": False},
                     output=tmp_path / "08_sync.ipynb")


def test_sync_panel_previews_then_applies_with_a_bar_per_repository(registry, registry_b,
                                                                    namespace):
    from registry_widgets.widgets.sync_panel import SyncPanel

    mirror = name()
    panel = SyncPanel(f"{registry.host}/{namespace['ns']}", f"{registry_b.host}/{mirror}")
    panel.tags.value = "^2"

    panel.preview_button.click()
    assert panel.last_error is None, panel.last_error
    assert "1 copy" in panel.message.value and "app:2.0" in panel.table.value
    assert f"{mirror}/app" not in list_repositories(registry_b)

    panel.apply_button.click()
    assert panel.last_error is None, panel.last_error
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "2.0") == namespace["app:2.0"]
    assert sorted(panel.progress.ids) == [f"{namespace['ns']}/app", f"{namespace['ns']}/multi"]
    assert panel.last_result.details["counts"] == {"copied": 1}
    assert "copied" in panel.table.value


def test_sync_panel_applies_the_previewed_plan_and_only_after_a_preview_of_these_fields(
        registry, registry_b, namespace):
    from registry_widgets.widgets.sync_panel import SyncPanel

    ns, mirror = namespace["ns"], name()
    panel = SyncPanel(f"{registry.host}/{ns}", f"{registry_b.host}/{mirror}")
    panel.tags.value = "^2"
    assert panel.apply_button.disabled  # nothing previewed

    panel.preview_button.click()
    assert panel.last_error is None, panel.last_error
    assert not panel.apply_button.disabled
    previewed = {row["target"] for row in panel.plan.details["images"]}
    assert previewed == {f"{registry_b.host}/{mirror}/app:2.0"}
    # Fields edited after the Preview: the plan shown no longer describes them.
    panel.tags.value = "^1"
    assert panel.apply_button.disabled
    panel.apply_button.click()  # a click reaching a disabled button still applies nothing
    assert "changed since the Preview" in str(panel.last_error)
    assert f"{mirror}/app" not in list_repositories(registry_b)
    panel.tags.value = "^2"
    assert not panel.apply_button.disabled
    # Pushed after the Preview, selected by its filter: not in the plan, so not copied.
    push_image(registry, f"{ns}/app", "2.1", layers=[b"after the preview"])

    panel.apply_button.click()

    assert panel.last_error is None, panel.last_error
    assert list_tags(registry_b, f"{mirror}/app") == ["2.0"]
    assert skopeo_digest(registry_b.host, f"{mirror}/app", "2.0") == namespace["app:2.0"]
    assert {row["target"] for row in panel.last_result.details["images"]} == previewed
    assert panel.last_result.details["from_plan"]
    panel.follow(registry_b.host)  # the dashboard moved the source: that plan is gone
    assert panel.apply_button.disabled and panel.plan is None


def test_sync_panel_shows_one_clear_error_for_bad_input(registry):
    from registry_widgets.widgets.sync_panel import SyncPanel

    panel = SyncPanel(f"{registry.host}/ns", "")
    panel.preview_button.click()
    assert isinstance(panel.last_error, ValueError)
    assert "give a source and a target" in panel.message.value


def test_referrers_are_copied_by_digest_where_both_registries_have_the_api(registry, registry_b,
                                                                           fault_proxy):
    """distribution 2.8 has no referrers API: the proxies answer it for both registries (a
    fake of the API's presence only; the manifests themselves are real)."""
    from tests.support.faultproxy import Respond
    from tests.support.oracle import get_manifest

    ns, mirror = name(), name()
    subject = push_image(registry, f"{ns}/app", "1.0", layers=[b"subject"])
    referrer = push_image(registry, f"{ns}/app", None, layers=[b"an sbom"])
    source, target = fault_proxy(registry), fault_proxy(registry_b)
    listing = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [{"mediaType": referrer.media_type, "digest": referrer.digest,
                              "size": referrer.size}]}
    source.add_rule("GET", "/referrers/", Respond.json(json.dumps(listing)), times=None)
    target.add_rule("GET", "/referrers/", Respond.json(json.dumps({**listing, "manifests": []})),
                    times=None)

    result = sync(f"{source.host}/{ns}/app", f"{target.host}/{mirror}")

    rows = {row["reference"]: row for row in result.details["images"]}
    assert rows[referrer.digest]["kind"] == "referrer"
    assert rows[referrer.digest]["subject"] == subject.digest
    assert result.details["counts"] == {"copied": 2}
    assert get_manifest(registry_b, f"{mirror}/app", referrer.digest).data == referrer.manifest
