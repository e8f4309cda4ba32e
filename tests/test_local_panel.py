"""The Local images tab (``widgets/local_panel.py``) and the local removals it plans
(``operations/images/local.py``), driven in Python against the real Docker engine, checked
with the Docker SDK (the oracle) and raw HTTP to the registry.

The engine is shared by the machine's sessions, so nothing here prunes unused (tagged)
images for real: their plan is read, then cancelled. Dangling images that no container uses
are garbage by definition; a Prune of them is applied.
"""

from __future__ import annotations

import secrets

import docker
import pytest

from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images.local import (apply_local_plan, plan_prune_images,
                                                      plan_remove_images)
from registry_widgets.widgets.local_panel import LocalPanel
from tests.support import get_manifest

TIMEOUT = 120


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def commit(client: docker.DockerClient, base: str, name: str | None, label: str) -> str:
    """A one-label image on ``base``, its id: `docker commit` of a container never started
    (a build takes seconds on a busy machine). Without ``name`` it is dangling."""
    container = client.api.create_container(base, host_config=client.api.create_host_config(
        network_mode="none"))
    try:
        repository, tag = name.rsplit(":", 1) if name else (None, None)
        return client.api.commit(container["Id"], repository=repository, tag=tag,
                                 conf={"Labels": {"rw.test": label}})["Id"]
    finally:
        client.api.remove_container(container["Id"], force=True)


def remove_all(client: docker.DockerClient, containers: list, ids: list[str]) -> None:
    for container in containers:
        container.remove(force=True)
    for image_id in ids:
        try:
            client.images.remove(image_id, force=True)
        except docker.errors.APIError:  # already gone
            pass


@pytest.fixture(scope="module")
def in_use(_docker_session, base_image):
    """A tagged image and a dangling one, each used by a (never started) container."""
    client, word = _docker_session, secrets.token_hex(3)
    name = f"rw-local-used-{word}:1"
    ids = {"used": commit(client, base_image, name, f"u{word}"),
           "dangling_used": commit(client, base_image, None, f"v{word}")}
    containers = [client.containers.create(ids["dangling_used"], network_mode="none"),
                  client.containers.create(name, network_mode="none")]
    yield {"ids": ids, "used": name, "containers": [c.name for c in containers]}
    remove_all(client, containers, list(ids.values()))


@pytest.fixture
def scene(docker_client, base_image, in_use):
    """``in_use``, plus a tagged image and a dangling one that nothing uses (made for each
    test, removed after it)."""
    word = secrets.token_hex(3)
    free_name = f"rw-local-free-{word}:1"
    ids = dict(in_use["ids"], free=commit(docker_client, base_image, free_name, f"f{word}"),
               dangling_free=commit(docker_client, base_image, None, f"d{word}"))
    yield dict(in_use, ids=ids, free=free_name, base=base_image)
    remove_all(docker_client, [], [ids["free"], ids["dangling_free"]])


def exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def ready(panel: LocalPanel) -> LocalPanel:
    panel.wait(TIMEOUT)
    assert panel.available and panel.last_error is None, panel.why.value
    return panel


def test_the_table_shows_names_sizes_containers_and_dangling_images(engine, docker_client,
                                                                     scene):
    panel = ready(LocalPanel(engine=engine))
    frame = panel.frame
    ids = scene["ids"]
    used = frame[frame["image_id"] == ids["used"]].iloc[0]
    assert f"{used['repository']}:{used['tag']}" == scene["used"]
    assert any(scene["containers"][1] in c for c in used["containers"])
    dangling = frame[frame["image_id"] == ids["dangling_used"]].iloc[0]
    assert dangling["dangling"] and dangling["repository"] == "<none>"
    assert any(scene["containers"][0] in c for c in dangling["containers"])
    free = frame[frame["image_id"] == ids["free"]].iloc[0]
    assert not free["dangling"] and free["containers"] == []
    assert free["size"] == docker_client.images.get(ids["free"]).attrs["Size"]
    shown = panel.table.df
    assert "dangling" in set(shown["dangling"]) and "in use by" in shown.columns


def test_prune_dangling_plans_first_keeps_what_a_container_uses_then_applies(
        engine, docker_client, scene):
    ids = scene["ids"]
    panel = ready(LocalPanel(engine=engine))
    panel.prune_button.click()
    panel.wait(TIMEOUT)
    plan = panel.confirmation.plan.value
    assert "Nothing has been removed yet" in plan
    assert ids["dangling_free"][:19] in plan
    kept = [line for line in plan.splitlines() if ids["dangling_used"][:19] in line]
    assert kept and kept[0].strip().startswith("keep") and "used by container" in kept[0]
    assert not any(ids[k][:19] in plan for k in ("used", "free"))  # tagged: not dangling
    assert exists(docker_client, ids["dangling_free"])  # a plan removes nothing

    panel.apply_button.click()
    panel.wait(TIMEOUT)
    assert not exists(docker_client, ids["dangling_free"])
    assert exists(docker_client, ids["dangling_used"])
    assert exists(docker_client, scene["used"]) and exists(docker_client, scene["free"])
    assert "removed" in panel.message.text
    assert ids["dangling_free"] not in set(panel.frame["image_id"])
    recorded = [r for r in journal.read() if r.get("action") == "prune_local_images"]
    assert recorded and any(ids["dangling_free"][:19] in x
                            for x in recorded[-1]["details"]["removed"])


def test_prune_unused_is_planned_with_tagged_images_and_cancel_removes_nothing(
        engine, docker_client, scene):
    panel = ready(LocalPanel(engine=engine))
    panel.prune_unused.value = True
    panel.prune_button.click()
    panel.wait(TIMEOUT)
    plan = panel.confirmation.plan.value
    assert scene["free"] in plan
    assert any(line.strip().startswith("keep") and scene["used"] in line
               for line in plan.splitlines())
    panel.cancel_button.click()
    assert panel.plan is None and not panel.confirmation.pending
    assert exists(docker_client, scene["free"]) and exists(docker_client, scene["base"])


def test_remove_refuses_an_image_a_container_uses_and_removes_a_free_one(
        engine, docker_client, scene):
    panel = ready(LocalPanel(engine=engine))
    panel.select(scene["used"])
    panel.remove_button.click()
    panel.wait(TIMEOUT)
    assert "used by container" in panel.confirmation.plan.value
    assert panel.apply_button.disabled  # nothing in the plan may go

    panel.select(scene["free"])
    panel.remove_button.click()
    panel.wait(TIMEOUT)
    assert scene["free"] in panel.confirmation.plan.value
    panel.apply_button.click()
    panel.wait(TIMEOUT)
    assert not exists(docker_client, scene["free"])
    assert exists(docker_client, scene["used"])


def test_an_image_a_container_starts_using_after_the_plan_is_skipped(
        engine, docker_client, scene):
    """The apply re-reads the engine: the plan is not trusted blindly."""
    plan = plan_remove_images([scene["free"]], engine=engine)
    assert [r.names for r in plan.removals] == [(scene["free"],)]
    late = docker_client.containers.create(scene["free"], network_mode="none")
    try:
        result = apply_local_plan(plan, engine=engine)
    finally:
        late.remove(force=True)
    assert result.details["removed"] == [] and not result.changed
    assert "since the plan" in result.details["skipped"][0]
    assert exists(docker_client, scene["free"])


def test_a_name_added_after_the_prune_plan_keeps_the_image(engine, docker_client, scene):
    plan = plan_prune_images(engine=engine)
    assert scene["ids"]["dangling_free"] in [r.image_id for r in plan.removals]
    rescued = f"rw-local-rescued-{secrets.token_hex(3)}:1"
    docker_client.images.get(scene["ids"]["dangling_free"]).tag(rescued)
    try:
        result = apply_local_plan(plan, engine=engine)
        assert exists(docker_client, rescued)
        assert any("names changed since the plan" in s for s in result.details["skipped"])
    finally:
        docker_client.images.remove(rescued, force=True)


def test_push_takes_the_selected_image_shows_the_target_and_what_it_replaces(
        engine, docker_client, registry, scene, unique_repo):
    namespace, repository = unique_repo.split("/")
    panel = ready(LocalPanel(registry.host, engine=engine))
    panel.select(scene["free"])
    panel.wait(TIMEOUT)
    assert panel.push_repository.value == scene["free"].split(":")[0]
    panel.push_namespace.value = namespace
    panel.push_repository.value = repository
    panel.push_tag.value = "1.0"
    panel.wait(TIMEOUT)
    target = f"{registry.host}/{unique_repo}:1.0"
    assert target in panel.target.value and "a new tag" in panel.target.value
    panel.push_button.click()
    panel.wait(TIMEOUT)
    first = get_manifest(registry, unique_repo, "1.0").digest

    # The same tag again, from another image: the form says what it replaces.
    panel.select(scene["used"])
    panel.wait(TIMEOUT)
    panel.push_repository.value = repository
    panel.push_tag.value = "1.0"
    panel.wait(TIMEOUT)
    assert "replaces" in panel.target.value and first[:19] in panel.target.value
    panel.push_button.click()
    panel.wait(TIMEOUT)
    assert get_manifest(registry, unique_repo, "1.0").digest != first
    assert f"replaced {first[:19]}" in panel.message.text and "Trash tab" in panel.message.text
    for name in (target,):
        docker_client.images.remove(name, force=True)


def test_run_test_shows_the_exit_code_and_the_logs(engine, scene):
    panel = ready(LocalPanel(engine=engine))
    panel.select(scene["free"])
    panel.run_command.value = "echo hello from the test run"
    panel.run_button.click()
    panel.wait(TIMEOUT)
    assert "exit code 0" in panel.message.text
    assert "hello from the test run" in panel.logs.value


def test_without_an_engine_the_tab_says_why_and_its_buttons_are_disabled(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    panel = LocalPanel()
    panel.wait(TIMEOUT)
    assert not panel.available
    assert "No local Docker engine answers" in panel.why.value
    assert panel.prune_button.disabled and panel.push_button.disabled
    assert not panel.refresh_button.disabled  # to try again once one runs
