"""Removal plans are pure: a snapshot of a repository in, exactly what would go out.

``compute_plan`` (and ``compute_namespace_plan``) take a ``RepositoryIndex`` built by hand
here, with no registry and the network refused: the table below is the specification of what
removing a tag or a digest takes. The I/O half (``read_index``) and the dry runs are checked
against a real registry behind the fault proxy, whose log of every request proves that a dry
run sends no DELETE, PUT, POST or PATCH.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
import socket
from dataclasses import dataclass, replace

import pytest

from registry_widgets.errors import ConfirmationRequired, NotFound
from registry_widgets.manifest import OCI_INDEX, OCI_MANIFEST, Manifest
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images import remove_plan
from registry_widgets.operations.images.remove_plan import (IndexRef, RemovalPlan, RepositoryIndex,
                                                      compute_plan, read_index)
from registry_widgets.operations.images.remove import (compute_namespace_plan, plan_remove, remove,
                                                remove_namespace)
from registry_widgets.reference import parse_reference
from tests.support import list_tags, push_image, push_index

pytest_plugins = ["faults_fixtures"]  # fault_proxy, and fresh package clients for every test

REG = "registry.example.com"
REPO = "team/app"
WRITES = {"DELETE", "PUT", "POST", "PATCH"}
FIXED_TIME = "2024-01-01T00:00:00Z"  # same bytes, same digest: co-tags


# -- snapshots built by hand ---------------------------------------------------------------------

def blob(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


SIZES = {"cfg-a": 100, "cfg-b": 110, "cfg-c": 120, "base": 5000, "a-top": 700, "b-top": 900,
         "c-only": 300}


def image(config: str, *layers: str) -> Manifest:
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": blob(config), "size": SIZES[config]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": blob(layer), "size": SIZES[layer]} for layer in layers]}
    return Manifest(json.dumps(body).encode(), OCI_MANIFEST)


def index(*children: tuple[Manifest, str]) -> Manifest:
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": child.media_type, "digest": child.digest, "size": child.size,
         "platform": {"os": "linux", "architecture": arch}} for child, arch in children]}
    return Manifest(json.dumps(body).encode(), OCI_INDEX)


A = image("cfg-a", "base", "a-top")  # shares "base" with B
B = image("cfg-b", "base", "b-top")
C = image("cfg-c", "c-only")  # shares nothing
MULTI = index((A, "amd64"), (B, "arm64"))


def snapshot(tags: dict[str, Manifest], *untagged: Manifest) -> RepositoryIndex:
    manifests = {m.digest: m for m in [*tags.values(), *untagged]}
    for m in list(manifests.values()):
        for child in m.children:
            known = next(x for x in (A, B, C) if x.digest == child.digest)
            manifests.setdefault(child.digest, known)
    return RepositoryIndex({t: m.digest for t, m in tags.items()}, manifests)


COTAGGED = snapshot({"1.0": A, "latest": A, "2.0": B, "solo": C})
WITH_INDEX = snapshot({"multi": MULTI, "amd64": A, "c": C})


def tag(name: str) -> str:
    return f"{REG}/{REPO}:{name}"


def digest(m: Manifest) -> str:
    return f"{REG}/{REPO}@{m.digest}"


@dataclass(frozen=True)
class Case:
    name: str
    ref: str
    index: RepositoryIndex
    kind: str
    digest: str
    tags_removed: tuple[str, ...]
    co_tags_kept: tuple[str, ...]
    method: str
    blocked_by: tuple[IndexRef, ...]
    freed: int
    allowed: bool = True
    force: bool = False
    tag_delete_unsupported: bool = False
    referenced_by: tuple[IndexRef, ...] = ()


MULTI_REF = IndexRef(MULTI.digest, ("multi",))
CASES = [
    Case("a tag with co-tags goes alone and frees nothing", tag("1.0"), COTAGGED, "tag",
         A.digest, ("1.0",), ("latest",), "tag-delete", (), 0),
    Case("a co-tag is the same image seen from the other tag", tag("latest"), COTAGGED, "tag",
         A.digest, ("latest",), ("1.0",), "tag-delete", (), 0),
    Case("the last tag frees its manifest and its own blobs, not shared ones", tag("2.0"),
         COTAGGED, "tag", B.digest, ("2.0",), (), "tag-delete", (),
         B.size + SIZES["cfg-b"] + SIZES["b-top"]),
    Case("a registry without tag DELETE gets the placeholder method", tag("1.0"), COTAGGED,
         "tag", A.digest, ("1.0",), ("latest",), "placeholder", (), 0,
         tag_delete_unsupported=True),
    Case("a digest takes every tag on it", digest(A), COTAGGED, "digest", A.digest,
         ("1.0", "latest"), (), "manifest-delete", (),
         A.size + SIZES["cfg-a"] + SIZES["a-top"]),
    Case("a digest with no blob in common frees all of them", digest(C), COTAGGED, "digest",
         C.digest, ("solo",), (), "manifest-delete", (),
         C.size + SIZES["cfg-c"] + SIZES["c-only"]),
    Case("tag@digest that still matches is a tag removal", f"{tag('1.0')}@{A.digest}", COTAGGED,
         "tag", A.digest, ("1.0",), ("latest",), "tag-delete", (), 0),
    Case("an index platform is blocked", digest(A), WITH_INDEX, "digest", A.digest, ("amd64",),
         (), "manifest-delete", (MULTI_REF,), A.size + SIZES["cfg-a"] + SIZES["a-top"],
         allowed=False, referenced_by=(MULTI_REF,)),
    Case("an untagged index platform is blocked too", digest(B), WITH_INDEX, "digest", B.digest,
         (), (), "manifest-delete", (MULTI_REF,), B.size + SIZES["cfg-b"] + SIZES["b-top"],
         allowed=False, referenced_by=(MULTI_REF,)),
    Case("force lets an index platform go", digest(A), WITH_INDEX, "digest", A.digest,
         ("amd64",), (), "manifest-delete", (MULTI_REF,),
         A.size + SIZES["cfg-a"] + SIZES["a-top"], force=True, referenced_by=(MULTI_REF,)),
    Case("the tag of an index platform goes: the index keeps working", tag("amd64"), WITH_INDEX,
         "tag", A.digest, ("amd64",), (), "tag-delete", (), 0, referenced_by=(MULTI_REF,)),
    Case("an index frees only itself: its platforms stay", digest(MULTI), WITH_INDEX, "digest",
         MULTI.digest, ("multi",), (), "manifest-delete", (), MULTI.size),
]


@pytest.fixture
def offline(monkeypatch):
    """No client and no socket: a plan that tried either would fail here."""
    def refuse(*args, **kwargs):
        raise AssertionError("compute_plan touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(remove_plan, "client_for", refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compute_plan_decides_exactly_what_goes(case: Case, offline):
    plan = compute_plan(case.ref, case.index, force=case.force,
                        tag_delete_unsupported=case.tag_delete_unsupported)

    ref = parse_reference(case.ref)
    assert (plan.registry, plan.repository) == (REG, REPO)
    assert plan.kind == case.kind and plan.digest == case.digest
    assert plan.tag == ref.tag and plan.force == case.force
    assert plan.tags_removed == case.tags_removed
    assert plan.co_tags_kept == case.co_tags_kept
    assert plan.method == case.method
    assert plan.blocked_by == case.blocked_by
    assert plan.referenced_by == case.referenced_by
    assert plan.bytes_freed_estimate == case.freed
    assert plan.allowed is case.allowed
    assert plan.media_type == case.index.manifests[case.digest].media_type
    described = plan.describe()
    assert all(t in described for t in case.tags_removed + case.co_tags_kept)
    if case.blocked_by:
        assert ("forced" if case.force else "refused unless force=True") in described


@pytest.mark.parametrize("ref, error, words", [
    (tag("2.5"), NotFound, ("tag registry.example.com/team/app:2.5 not found",
                            "nothing was changed")),
    (f"{REG}/{REPO}@sha256:{'0' * 64}", NotFound, ("image", "not found", "nothing was changed")),
    (f"{tag('1.0')}@{B.digest}", ConfirmationRequired, (f"now points at {A.digest}",
                                                        "nothing was changed")),
])
def test_compute_plan_refuses_what_the_snapshot_does_not_hold(ref, error, words, offline):
    with pytest.raises(error) as caught:
        compute_plan(ref, COTAGGED)
    assert type(caught.value) is error
    for word in words:
        assert word in str(caught.value)


def test_a_tag_whose_manifest_vanished_between_the_reads_is_not_found(offline):
    torn = RepositoryIndex({"1.0": A.digest}, {})  # the GET after the tag list found nothing
    with pytest.raises(NotFound, match="disappeared while it was being read"):
        compute_plan(tag("1.0"), torn)


def test_compute_plan_is_pure_and_deterministic(offline):
    assert list(inspect.signature(compute_plan).parameters) == [
        "ref", "index", "tag_delete_unsupported", "force"]
    shuffled_tags = list(WITH_INDEX.tags.items())
    shuffled_manifests = list(WITH_INDEX.manifests.items())
    plans = set()
    for seed in range(5):
        random.Random(seed).shuffle(shuffled_tags)
        random.Random(seed).shuffle(shuffled_manifests)
        same = RepositoryIndex(dict(shuffled_tags), dict(shuffled_manifests))
        plans.add(repr(compute_plan(digest(A), same)))
    assert len(plans) == 1
    assert isinstance(compute_plan(tag("1.0"), COTAGGED), RemovalPlan)
    assert compute_plan(tag("1.0"), COTAGGED) == compute_plan(parse_reference(tag("1.0")), COTAGGED)


def test_compute_namespace_plan_orders_indexes_first_and_counts_shared_blobs_once(offline):
    plan = compute_namespace_plan(REG, "team/", {"team/app": WITH_INDEX,
                                                "team/other": snapshot({"x": C})})
    app, other = plan.repositories
    assert plan.namespace == "team" and (app.repository, other.repository) == (
        "team/app", "team/other")
    assert app.digests.index(MULTI.digest) < min(app.digests.index(A.digest),
                                                 app.digests.index(B.digest))
    assert dict(app.tags) == WITH_INDEX.tags
    blobs = sum(SIZES.values())  # team/app: every blob once, "base" is shared by A and B
    manifests = A.size + B.size + C.size + MULTI.size
    # C is in both repositories: counted in each repository it would be deleted from.
    assert plan.bytes_freed_estimate == blobs + manifests + C.size + SIZES["cfg-c"] + \
        SIZES["c-only"]
    assert (plan.tag_count, plan.digest_count) == (4, 5)


# -- the I/O half, and dry runs through the fault proxy ------------------------------------------

@pytest.fixture
def seeded(fault_proxy, registry, unique_repo):
    """In front of a real registry: ``1.0`` and ``latest`` on one image, an index ``multi`` over
    two platforms, and an image ``solo``; plus a second repository in the same namespace."""
    proxy = fault_proxy(registry)
    one = push_image(registry, unique_repo, "1.0", layer_sizes=(600,), seed=unique_repo,
                     created=FIXED_TIME)
    co = push_image(registry, unique_repo, "latest", layer_sizes=(600,), seed=unique_repo,
                    created=FIXED_TIME)
    assert co.digest == one.digest
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(700,), seed=f"{unique_repo}-a")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(800,), seed=f"{unique_repo}-b",
                       platform=("linux", "arm64", "v8"))
    multi = push_index(registry, unique_repo, "multi", [amd64, arm64])
    namespace = unique_repo.split("/")[0]
    push_image(registry, f"{namespace}/second", "solo", layer_sizes=(500,), seed=unique_repo)
    proxy.clear()  # from here on, the log holds only what the package sends
    return {"proxy": proxy, "registry": registry, "repo": unique_repo, "namespace": namespace,
            "one": one, "amd64": amd64, "multi": multi}


def test_read_index_then_compute_plan_is_what_plan_remove_says(seeded):
    proxy, repo = seeded["proxy"], seeded["repo"]
    ref = parse_reference(f"{proxy.host}/{repo}@{seeded['amd64'].digest}")

    snapshot_read = read_index(clients.client_for(proxy.host), ref)
    plan = compute_plan(ref, snapshot_read)

    assert snapshot_read.tags == {"1.0": seeded["one"].digest, "latest": seeded["one"].digest,
                                  "multi": seeded["multi"]}
    assert seeded["amd64"].digest in snapshot_read.manifests  # untagged, reached via the index
    assert plan == plan_remove(ref)
    assert plan.blocked_by == (IndexRef(seeded["multi"], ("multi",)),) and not plan.allowed
    assert {e.method for e in proxy.log} <= {"GET", "HEAD"}


def test_dry_runs_send_no_delete_put_post_or_patch(seeded):
    proxy, repo, reg = seeded["proxy"], seeded["repo"], seeded["registry"]
    before = {r: list_tags(reg, r) for r in (repo, f"{seeded['namespace']}/second")}

    results = [
        remove(f"{proxy.host}/{repo}:1.0", dry_run=True),
        remove(f"{proxy.host}/{repo}@{seeded['one'].digest}", dry_run=True),
        remove(f"{proxy.host}/{repo}@{seeded['amd64'].digest}", dry_run=True),
        remove(f"{proxy.host}/{repo}@{seeded['amd64'].digest}", dry_run=True, force=True),
        remove_namespace(proxy.host, seeded["namespace"], dry_run=True),
    ]

    methods = [e.method for e in proxy.log]
    assert "HEAD" in methods and "GET" in methods  # the proxy did see the reads
    assert not [f"{e.method} {e.path}" for e in proxy.log if e.method in WRITES]
    assert all(r.dry_run and not r.changed for r in results)
    assert results[0].details["co_tags_kept"] == ["latest"]
    assert results[1].details["tags_removed"] == ["1.0", "latest"]
    assert results[2].details["blocked_by"] and not results[2].details["forced"]
    assert results[3].details["forced"]
    assert results[4].details["repositories"] == sorted([repo, f"{seeded['namespace']}/second"])
    assert {r: list_tags(reg, r) for r in before} == before
    assert not list(journal.read())

    # The same log does show writes when there are some: the check above can fail.
    remove(f"{proxy.host}/{repo}:1.0")
    assert {"DELETE", "PUT"} <= {e.method for e in proxy.log}


def test_remove_applies_a_plan_computed_from_a_snapshot(seeded):
    proxy, repo, reg = seeded["proxy"], seeded["repo"], seeded["registry"]
    ref = parse_reference(f"{proxy.host}/{repo}:latest")
    plan = compute_plan(ref, read_index(clients.client_for(proxy.host), ref))

    result = remove(ref, plan=plan)

    assert result.details["tags_removed"] == ["latest"]
    assert result.details["co_tags_kept"] == ["1.0"]
    assert sorted(list_tags(reg, repo)) == ["1.0", "multi"]

    # A plan that the registry no longer matches (here: made up) is refused, nothing changed.
    stale = replace(compute_plan(parse_reference(f"{proxy.host}/{repo}:1.0"),
                                 read_index(clients.client_for(proxy.host),
                                            parse_reference(f"{proxy.host}/{repo}:1.0"))),
                    co_tags_kept=(), tags_removed=("1.0",), digest=seeded["amd64"].digest)
    with pytest.raises(ConfirmationRequired, match="changed since the plan"):
        remove(f"{proxy.host}/{repo}:1.0", plan=stale)
    assert sorted(list_tags(reg, repo)) == ["1.0", "multi"]
