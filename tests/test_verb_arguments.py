"""Each verb checks its own flags and counts before it sends anything: a string where a bool
belongs is a TypeError naming the argument, never Python's truthiness. The registry's state
is read back with the independent oracle (raw HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import registry_widgets as rw
from registry_widgets.errors import NotFound
from registry_widgets.operations.core.arguments import check_platforms
from devstack import LocalRegistry
from tests.support import get_manifest, list_repositories, list_tags, push_image, push_index
from tests.support.headless import cli, state


@pytest.mark.parametrize("value", ["all", ["linux/amd64"], ("linux/arm64/v8", "linux/amd64"),
                                   "linux/arm/v7", ["windows/amd64"]])
def test_check_platforms_passes(value):
    got = check_platforms("platforms", value)
    assert got == "all" if value == "all" else isinstance(got, list) and got


@pytest.mark.parametrize("value, error", [
    (None, TypeError), (5, TypeError), ({"linux/amd64"}, TypeError), (b"all", TypeError),
    ([], ValueError), (["linux"], ValueError), (["linux/amd64", 3], ValueError),
    ("ALL", ValueError), ("", ValueError), (["linux/amd64 "], ValueError),
])
def test_check_platforms_refuses(value, error):
    with pytest.raises(error, match="platforms"):
        check_platforms("platforms", value)


@pytest.fixture
def image(registry: LocalRegistry, unique_repo: str) -> str:
    push_image(registry, unique_repo, "1.0", seed=unique_repo)
    return f"{registry.host}/{unique_repo}:1.0"


@pytest.mark.parametrize("call, name", [
    (lambda ref: rw.remove(ref, force="no"), "force"),
    (lambda ref: rw.remove(ref, dry_run="False"), "dry_run"),
    (lambda ref: rw.remove(ref, dry_run=None), "dry_run"),
    (lambda ref: rw.remove(ref, dry_run=0), "dry_run"),
    (lambda ref: rw.remove(ref, plan="yes"), "plan"),
    (lambda ref: rw.plan_remove(ref, force="no"), "force"),
    (lambda ref: rw.restore("0" * 32, force="yes"), "force"),
    (lambda ref: rw.restore("0" * 32, dry_run="no"), "dry_run"),
    (lambda ref: rw.remove_namespace(ref.split("/")[0], ref.split("/")[1], dry_run="no"),
     "dry_run"),
    (lambda ref: rw.remove_namespace(ref.split("/")[0], ref.split("/")[1], confirm=1), "confirm"),
    (lambda ref: rw.copy(ref, ref + "-copy", platforms=None), "platforms"),
    (lambda ref: rw.copy(ref, ref + "-copy", platforms=5), "platforms"),
    (lambda ref: rw.copy(ref, ref + "-copy", platforms=[]), "platforms"),
    (lambda ref: rw.copy(ref, ref + "-copy", workers=0), "workers"),
    (lambda ref: rw.copy(ref, ref + "-copy", workers="4"), "workers"),
    (lambda ref: rw.images(ref.split("/")[0], workers=0), "workers"),
    (lambda ref: rw.namespaces(ref.split("/")[0], workers=True), "workers"),
    (lambda ref: rw.inspect(ref, platform=["linux/amd64"]), "platform"),
])
def test_a_verb_refuses_a_wrong_flag_before_any_request(registry: LocalRegistry, image: str,
                                                        call, name) -> None:
    repo = image.split("/", 1)[1].rsplit(":", 1)[0]
    before = state(registry, repo)
    catalog = set(list_repositories(registry))
    with pytest.raises((TypeError, ValueError), match=name):
        call(image)
    assert state(registry, repo) == before
    assert set(list_repositories(registry)) == catalog


def test_a_single_platform_image_of_another_platform_is_not_found(registry: LocalRegistry,
                                                                   registry_b: LocalRegistry,
                                                                   image: str, unique_repo: str):
    target = f"{registry_b.host}/{unique_repo}:1.0"
    with pytest.raises(NotFound, match="single-platform image of linux/amd64"):
        rw.copy(image, target, platforms=["linux/arm64"])
    assert unique_repo not in list_repositories(registry_b)

    copied = rw.copy(image, target, platforms=["linux/amd64"])
    assert get_manifest(registry_b, unique_repo, "1.0").digest == copied.digest
    assert copied.digest == get_manifest(registry, unique_repo, "1.0").digest


def test_platforms_through_the_cli(registry: LocalRegistry, registry_b: LocalRegistry,
                                   image: str, unique_repo: str, tmp_path: Path) -> None:
    target = f"{registry_b.host}/{unique_repo}:1.0"
    done = cli(tmp_path, "run", "copy", "-p", "source", image, "-p", "target", target,
               "-p", "platforms", '["linux/arm64"]')
    assert done.returncode == 1 and "single-platform image of linux/amd64" in done.stderr
    done = cli(tmp_path, "run", "copy", "-p", "source", image, "-p", "target", target,
               "-p", "platforms", "linux")
    assert done.returncode == 1 and "'linux' is not a platform" in done.stderr
    assert unique_repo not in list_repositories(registry_b)


def test_a_platform_without_variant_picks_that_arch_of_an_index(registry: LocalRegistry,
                                                                registry_b: LocalRegistry,
                                                                unique_repo: str) -> None:
    amd64 = push_image(registry, unique_repo, None, seed="amd64")
    arm64 = push_image(registry, unique_repo, None, seed="arm64", platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "1.0", [amd64, arm64])

    copied = rw.copy(f"{registry.host}/{unique_repo}:1.0", f"{registry_b.host}/{unique_repo}:1.0",
                     platforms=["linux/arm64"])

    index = get_manifest(registry_b, unique_repo, "1.0")
    assert [m["digest"] for m in json.loads(index.data)["manifests"]] == [arm64.digest]
    assert copied.details["platforms"] == ["linux/arm64/v8"]
    assert list_tags(registry_b, unique_repo) == ["1.0"]
