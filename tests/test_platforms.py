"""Platforms, normalised as containerd does, in one place (``manifest.normalize_platform``) and
used by every verb that takes one: ``inspect``, ``copy``, ``sbom``/``scan``, ``pull``, ``build``
and the Build tab.

The rules are containerd's (github.com/containerd/platforms, database.go ``normalizeArch``
and platforms.go ``Parse``): ``linux/arm64`` is ``linux/arm64/v8``, an architecture alone is
Linux, ``linux/arm`` is ``linux/arm/v7``, case does not matter. Index selection is checked
against multi-arch indexes pushed here with the test helpers (their digests read back with
the raw-HTTP oracle); pull and build run on the real engine with this machine's platform.
"""

from __future__ import annotations

import json
import uuid

import pytest

import registry_widgets as rw
from registry_widgets.errors import NotFound
from registry_widgets.manifest import normalize_platform, same_platform
from registry_widgets.operations.core import clients
from registry_widgets.operations.images import local
from tests.scan_images import alpine_layers, debian_layers
from tests.support import push_image
from tests.support.images import push_index
from tests.support.oracle import get_manifest


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


@pytest.mark.parametrize("text, normal", [
    ("linux/arm64", "linux/arm64/v8"),
    ("linux/arm64/v8", "linux/arm64/v8"),
    ("arm64", "linux/arm64/v8"),
    ("aarch64", "linux/arm64/v8"),
    ("linux/arm64/8", "linux/arm64/v8"),
    ("linux/arm64/v9.0", "linux/arm64/v9"),
    ("amd64", "linux/amd64"),
    ("linux/x86_64", "linux/amd64"),
    ("Linux/AMD64", "linux/amd64"),
    ("linux/amd64/v1", "linux/amd64"),
    ("linux/amd64/v3", "linux/amd64/v3"),
    ("linux/arm", "linux/arm/v7"),
    ("linux/arm/7", "linux/arm/v7"),
    ("linux/arm/v6", "linux/arm/v6"),
    ("armhf", "linux/arm/v7"),
    ("linux/armel", "linux/arm/v6"),
    ("linux/i386", "linux/386"),
    ("macos/arm64", "darwin/arm64/v8"),
    ("windows/amd64", "windows/amd64"),
])
def test_a_platform_is_normalised_as_containerd_does(text, normal):
    assert normalize_platform(text) == normal


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "linux/arm64/v8/x",
                                  "linux/amd 64", "linux/amd64!", "üx/amd64",
                                  " linux/s390x", "linux/amd64 "])
def test_what_is_no_platform_is_refused_in_one_sentence(text):
    with pytest.raises(ValueError) as refused:
        normalize_platform(text)
    assert str(refused.value).count("not a platform") == 1
    assert 'such as "linux/amd64"' in str(refused.value)


def test_same_platform_is_the_normalised_equality():
    assert same_platform("linux/arm64", "linux/arm64/v8")
    assert same_platform("arm64", "linux/arm64")
    assert not same_platform("linux/arm", "linux/arm/v6")
    assert not same_platform("linux/amd64", "unknown")


@pytest.fixture
def multiarch(registry, unique_repo):
    """An index of linux/amd64 (debian) and linux/arm64/v8 (alpine), as buildx writes it."""
    amd = push_image(registry, unique_repo, None, layers=debian_layers(),
                     platform=("linux", "amd64"))
    arm = push_image(registry, unique_repo, None, layers=alpine_layers(),
                     platform=("linux", "arm64", "v8"))
    index = push_index(registry, unique_repo, "1.0", [amd, arm])
    return {"ref": f"{registry.host}/{unique_repo}:1.0", "index": index, "amd64": amd.digest,
            "arm64": arm.digest, "repository": unique_repo}


@pytest.mark.parametrize("asked", ["linux/arm64", "arm64", "LINUX/ARM64/V8", "aarch64"])
def test_inspect_finds_the_arm64_v8_entry_however_it_is_written(registry, multiarch, asked):
    seen = rw.inspect(multiarch["ref"], platform=asked)
    arm = json.loads(get_manifest(registry, multiarch["repository"], multiarch["arm64"]).data)
    assert [layer["digest"] for layer in seen["layers"]] == \
        [layer["digest"] for layer in arm["layers"]]
    assert seen["digest"] == multiarch["index"]


def test_an_index_entry_without_its_variant_is_found_by_the_full_name(registry, unique_repo):
    arm = push_image(registry, unique_repo, None, seed="no variant", platform=("linux", "arm64"))
    push_index(registry, unique_repo, "bare", [arm])
    seen = rw.inspect(f"{registry.host}/{unique_repo}:bare", platform="linux/arm64/v8")
    assert [layer["digest"] for layer in seen["layers"]] == [b.digest for b in arm.layers]


def test_inspect_of_an_absent_or_invalid_platform_says_which(multiarch):
    with pytest.raises(NotFound, match="linux/amd64, linux/arm64/v8"):
        rw.inspect(multiarch["ref"], platform="linux/arm")
    with pytest.raises(ValueError, match="platform: 'linux' is not a platform"):
        rw.inspect(multiarch["ref"], platform="linux")


def test_copy_of_arm64_copies_the_v8_platform_only(registry, registry_b, multiarch):
    target = f"{registry_b.host}/{multiarch['repository']}:arm"
    result = rw.copy(multiarch["ref"], target, platforms=["arm64"])
    assert result.details["platforms"] == ["linux/arm64/v8"]
    index = json.loads(get_manifest(registry_b, multiarch["repository"], "arm").data)
    assert [m["digest"] for m in index["manifests"]] == [multiarch["arm64"]]


def test_sbom_and_scan_pick_the_platform_however_it_is_written(multiarch, tmp_path):
    assert rw.sbom(multiarch["ref"], platform="arm64").distro.startswith("alpine")
    assert rw.sbom(multiarch["ref"], platform="x86_64").distro.startswith("debian")
    feed = tmp_path / "feed"
    feed.mkdir()
    with pytest.raises(ValueError, match="platform: 'arm' is not|not a platform"):
        rw.scan(multiarch["ref"], feed=str(feed), platform="arm 64")


# -- the engine ----------------------------------------------------------------------------


def engine_platform(docker_client) -> str:
    version = docker_client.version()
    return normalize_platform(f"{version['Os']}/{version['Arch']}")


@pytest.mark.engine
def test_pull_and_build_pass_the_engines_platform_option(engine, docker_client, base_image,
                                                         registry, unique_repo, tmp_path,
                                                         local_names):
    mine = engine_platform(docker_client)
    arch = mine.split("/")[1]  # written as an architecture alone, normalised by the verb
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base_image}\nLABEL built.for={arch}\n")
    ref = f"{registry.host}/{unique_repo}:{arch}"
    local_names.append(ref)

    built = local.build(context, ref, platform=arch, engine=engine)
    assert built.details["platform"] == mine
    shown = docker_client.api.inspect_image(ref)
    assert normalize_platform(f"{shown['Os']}/{shown['Architecture']}") == mine

    pushed = local.push(ref, engine=engine)
    engine.remove(ref)
    pulled = local.pull(ref, platform=mine.upper(), engine=engine)
    assert pulled.details["platform"] == mine
    assert pulled.digest == pushed.digest == get_manifest(registry, unique_repo, arch).digest


@pytest.mark.engine
def test_an_invalid_platform_is_refused_before_the_engine_is_asked(engine, docker_client,
                                                                   base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\n")
    name = f"registry-widgets/platform-{uuid.uuid4().hex[:6]}:1"
    with pytest.raises(ValueError) as refused:
        local.build(tmp_path, name, platform="linux/", engine=engine)
    assert str(refused.value).startswith("platform: 'linux/' is not a platform")
    assert not docker_client.images.list(name=name.split(":")[0])
    with pytest.raises(ValueError, match="platform: 'x86 64' is not a platform"):
        local.pull(f"127.0.0.1:1/{name}", platform="x86 64", engine=engine)


def settled(panel):
    """``panel`` once its worker is done (its error, if any, stays in ``last_error``)."""
    try:
        panel.wait(300)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the test reads last_error and the message
        pass
    return panel


@pytest.mark.engine
def test_the_build_tab_takes_a_platform_and_refuses_a_wrong_one(docker_client, base_image,
                                                               registry, unique_repo,
                                                               tmp_path, local_names):
    from registry_widgets.widgets import BuildPanel

    mine = engine_platform(docker_client)
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {base_image}\nCMD ["/bin/true"]\n')
    ns = unique_repo.split("/")[0]
    panel = BuildPanel(registry.host, ns)
    panel.context_dir.value = str(context)
    panel.image_name.value = "plat:1.0"
    panel.test_run.value = False
    ref = f"{registry.host}/{ns}/plat:1.0"
    local_names.append(ref)

    panel.platform.value = "not a platform"
    panel.build_button.click()
    settled(panel)
    assert panel.message.kind == "error"
    assert panel.message.text.startswith("the platform box: 'not a platform' is not a platform")
    assert not docker_client.images.list(name=f"{registry.host}/{ns}/plat")

    panel.platform.value = mine.split("/")[1].upper()  # AMD64: any case, arch alone
    panel.build_button.click()
    settled(panel)
    assert panel.last_error is None, panel.message.text
    assert panel.last_result.details["platform"] == mine
    assert docker_client.images.list(name=f"{registry.host}/{ns}/plat")


def test_sync_of_arm64_mirrors_the_v8_platform_only(registry_b, multiarch):
    from tests.support.oracle import list_repositories

    mirror = f"mirror-{uuid.uuid4().hex[:6]}"
    source = f"{multiarch['ref'].rsplit(':', 1)[0]}"
    result = rw.sync(source, f"{registry_b.host}/{mirror}", platforms=["arm64"])
    assert result.details["counts"] == {"copied": 1}, result.details
    written = [r for r in list_repositories(registry_b)
               if r == mirror or r.startswith(mirror + "/")]
    assert len(written) == 1, written  # where skopeo's naming puts it is test_sync's concern
    index = json.loads(get_manifest(registry_b, written[0], "1.0").data)
    assert [m["digest"] for m in index["manifests"]] == [multiarch["arm64"]]
