"""The engine layer and the local verbs, against a real Docker engine and real registries.

The tutorial "Adding images to your namespace", step by step: pull, tag, push, build, run,
remove. What the registries hold is read back with the stack's independent HTTP oracle, never
with the code under test. No mocks: a port with nothing listening stands in for a dead registry.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pytest

from registry_widgets.engine import Engine
from registry_widgets.errors import (BadReference, Denied, EngineError, EngineUnavailable,
                                     NotFound, Unauthorized, Unreachable)
from registry_widgets.operations.core import journal
from registry_widgets.operations.images import local
from registry_widgets.progress import ProgressEvent
from devstack._process import free_port
from tests.support import oracle

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def local_names(engine):
    """Names a test gives local images; removed afterwards, since the engine is shared."""
    names: list[str] = []
    yield names
    for name in reversed(names):
        try:
            engine.remove(name, force=True)
        except NotFound:
            pass


def unique_image(engine: Engine, base_image: str, ref: str, tmp_path: Path) -> str:
    """Build a small image with a layer no other test has, so a pull must download it."""
    context = tmp_path / f"ctx-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    (context / "unique.txt").write_text(os.urandom(32 * 1024).hex())  # 64 KiB
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY unique.txt /unique.txt\n")
    return engine.build(context, ref)


def layers(registry, repository: str, tag: str) -> list[str]:
    manifest = json.loads(oracle.get_manifest(registry, repository, tag).data)
    return [layer["digest"] for layer in manifest["layers"]]


def config_of(registry, repository: str, tag: str) -> dict:
    manifest = json.loads(oracle.get_manifest(registry, repository, tag).data)
    return json.loads(oracle.get_blob(registry, repository, manifest["config"]["digest"]))


# --- pull, tag, push --------------------------------------------------------------------------

@pytest.mark.engine
def test_pull_from_a_tag_for_b_push_to_b_keeps_the_layers(engine, base_image, registry,
                                                          registry_b, unique_repo, local_names):
    on_a = f"{registry.host}/{unique_repo}:v1"
    on_b = f"{registry_b.host}/{unique_repo}:v1"
    local_names.extend([on_a, on_b])
    local.tag(base_image, on_a, engine=engine)  # seed registry A
    seeded = local.push(on_a, engine=engine)
    engine.remove(on_a)  # only the name goes: base_image still holds the image

    pulled = local.pull(on_a, engine=engine)
    tagged = local.tag(on_a, on_b, engine=engine)
    pushed = local.push(on_b, engine=engine)

    assert pulled.digest == seeded.digest == oracle.get_manifest(registry, unique_repo, "v1").digest
    assert pushed.digest == oracle.get_manifest(registry_b, unique_repo, "v1").digest
    assert layers(registry_b, unique_repo, "v1") == layers(registry, unique_repo, "v1")
    assert (tagged.source, tagged.target) == (f"{registry.host}/{unique_repo}:v1", on_b)
    assert pushed.target == on_b and pulled.source == on_a


@pytest.mark.engine
def test_a_docker_hub_short_name_means_the_same_local_image(engine, base_image):
    # base_image is "registry-widgets/busybox:latest": canonical docker.io/... for the engine too
    short = engine.image(base_image)
    canonical = engine.image(f"docker.io/{base_image}")
    assert short["Id"] == canonical["Id"]


# --- build and test locally -------------------------------------------------------------------

@pytest.mark.engine
def test_build_run_and_push_an_image_from_a_dockerfile(engine, base_image, registry, unique_repo,
                                                       tmp_path, local_names):
    context = tmp_path / "app"
    context.mkdir()
    (context / "hello.txt").write_text("hello from the build context\n")
    # RUN works with the engine's default build network here (no bridge: only loopback).
    (context / "app.Dockerfile").write_text(
        f"FROM {base_image}\n"
        "ARG GREETING=unset\n"
        "COPY hello.txt /app/hello.txt\n"
        'RUN echo "built with $GREETING" > /app/built.txt && echo step-output\n'
        "LABEL org.example.stage=tutorial\n"
        "EXPOSE 8080\n"
        'CMD ["/bin/cat", "/app/hello.txt", "/app/built.txt"]\n')
    ref = f"{registry.host}/{unique_repo}:1.0"
    local_names.append(ref)
    events: list[ProgressEvent] = []

    built = local.build(context, ref, dockerfile="app.Dockerfile", build_args={"GREETING": "args"},
                        labels={"org.example.owner": "tests"}, progress=events.append,
                        engine=engine)
    ran = local.run(ref, engine=engine)
    ran_other = local.run(ref, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], engine=engine)
    pushed = local.push(ref, engine=engine)

    log_lines = [e.message for e in events if e.status == "log"]
    assert any(line.startswith("Step 1/") for line in log_lines)
    assert "step-output" in log_lines
    assert built.details["image_id"] == engine.image(ref)["Id"]
    assert built.details["build_args"] == ["GREETING"]  # names only: values may be secrets
    assert ran.details["exit_code"] == 0
    assert ran.details["logs"] == "hello from the build context\nbuilt with args\n"
    assert ran_other.details["exit_code"] == 3
    assert "out" in ran_other.details["logs"] and "err" in ran_other.details["logs"]
    assert pushed.digest == oracle.get_manifest(registry, unique_repo, "1.0").digest
    config = config_of(registry, unique_repo, "1.0")["config"]
    assert config["Labels"] == {"org.example.stage": "tutorial", "org.example.owner": "tests"}
    assert "8080/tcp" in config["ExposedPorts"]


@pytest.mark.engine
def test_a_failing_build_step_is_an_engine_error(engine, base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo doomed; exit 7\n")
    events: list[ProgressEvent] = []
    with pytest.raises(EngineError, match="non-zero code: 7") as caught:
        local.build(tmp_path, f"registry-widgets/doomed-{uuid.uuid4().hex[:6]}:1",
                    progress=events.append, engine=engine)
    assert not isinstance(caught.value, NotFound)
    assert "doomed" in [e.message for e in events]  # the log up to the failure still arrived


@pytest.mark.engine
def test_copy_of_a_missing_file_is_a_build_error_not_a_missing_image(engine, base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nCOPY absent.txt /\n")
    with pytest.raises(EngineError, match="absent.txt") as caught:
        local.build(tmp_path, "registry-widgets/absent:1", engine=engine)
    assert not isinstance(caught.value, NotFound)


@pytest.mark.engine
def test_run_past_its_timeout_is_killed_and_removed(engine, base_image, docker_client):
    marker = uuid.uuid4().hex
    with pytest.raises(EngineError, match="did not finish within 1"):
        engine.run(base_image, ["/bin/sh", "-c", f"while true; do :; done # {marker}"], timeout=1)
    leftovers = [c for c in docker_client.api.containers(all=True) if marker in c["Command"]]
    assert leftovers == []


# --- progress ---------------------------------------------------------------------------------

@pytest.mark.engine
def test_progress_reports_each_layer_on_push_and_pull(engine, base_image, registry, unique_repo,
                                                     tmp_path, local_names):
    ref = f"{registry.host}/{unique_repo}:p"
    local_names.append(ref)
    unique_image(engine, base_image, ref, tmp_path)
    pushes: list[ProgressEvent] = []
    pushed = local.push(ref, progress=pushes.append, engine=engine)
    engine.remove(ref)  # the unique layer goes with it, so the pull must download it
    pulls: list[ProgressEvent] = []
    pulled = local.pull(ref, progress=pulls.append, engine=engine)

    pushed_layers = {e.id for e in pushes if e.status == "Pushed"}
    assert pushed_layers and all(e.action == "push" for e in pushes)
    assert any(e.status == "Pushing" and e.total for e in pushes)
    assert pushed.bytes_moved >= 64 * 1024  # at least the unique file
    downloads = [e for e in pulls if e.status == "Downloading"]
    assert downloads and all(e.id and e.total and e.current <= e.total for e in downloads)
    assert {e.id for e in pulls if e.status == "Pull complete"} == {e.id for e in downloads}
    assert pulled.bytes_moved == sum({e.id: e.total for e in downloads}.values())
    assert pulled.digest == pushed.digest


# --- errors inside a 200 stream, and the engine's own ------------------------------------------

@pytest.mark.engine
def test_push_to_a_registry_that_does_not_answer_names_it(engine, base_image, local_names):
    dead = f"127.0.0.1:{free_port()}"
    ref = f"{dead}/ns/app:1"
    local_names.append(ref)
    local.tag(base_image, ref, engine=engine)
    with pytest.raises(Unreachable) as caught:
        local.push(ref, engine=engine)
    assert dead in str(caught.value) and ref in str(caught.value)
    assert caught.value.registry == dead and caught.value.reference == ref


@pytest.mark.engine
def test_pull_of_a_missing_tag_or_repository_is_not_found(engine, base_image, registry,
                                                          unique_repo, local_names):
    seeded = f"{registry.host}/{unique_repo}:here"
    local_names.append(seeded)
    local.tag(base_image, seeded, engine=engine)
    local.push(seeded, engine=engine)
    missing_tag, missing_repo = (f"{registry.host}/{unique_repo}:not-here",
                                 f"{registry.host}/{unique_repo}-x:1")
    for missing in (missing_tag, missing_repo):
        with pytest.raises(NotFound) as caught:
            local.pull(missing, engine=engine)
        assert missing in str(caught.value) and caught.value.registry == registry.host


@pytest.mark.engine
def test_local_verbs_on_a_missing_image_are_not_found(engine):
    missing = f"registry-widgets/missing-{uuid.uuid4().hex[:8]}:1"
    for call in (lambda: local.tag(missing, "registry-widgets/other:1", engine=engine),
                 lambda: local.run(missing, engine=engine),
                 lambda: local.remove_local(missing, engine=engine),
                 lambda: engine.image(missing)):
        with pytest.raises(NotFound, match="missing-"):
            call()


@pytest.mark.engine
def test_names_the_engine_writes_need_a_tag_not_a_digest(engine, base_image):
    pinned = "127.0.0.1:5000/ns/app@sha256:" + "a" * 64
    with pytest.raises(BadReference):
        local.push(pinned, engine=engine)
    with pytest.raises(BadReference):
        local.tag(base_image, pinned, engine=engine)


@pytest.mark.engine
def test_a_registry_that_wants_a_login_says_so_and_credentials_are_used(
        engine, base_image, token_registry, unique_repo, local_names):
    secured = token_registry
    ref = f"{secured.host}/{unique_repo}:1"
    local_names.append(ref)
    local.tag(base_image, ref, engine=engine)
    # Anonymous (DOCKER_CONFIG is empty): the token grants nothing. The push's plan reads the
    # tag first, and the registry refuses that read ("log in"), before the engine is asked.
    with pytest.raises((Denied, Unauthorized), match=f"docker login {secured.host}"):
        local.push(ref, engine=engine)
    with pytest.raises(Unauthorized, match=f"docker login {secured.host}") as caught:
        local.push(ref, credentials=(secured.username, "not-the-password"), engine=engine)
    assert caught.value.registry == secured.host

    pushed = local.push(ref, credentials=(secured.username, secured.password), engine=engine)
    engine.remove(ref)
    pulled = local.pull(ref, credentials=(secured.username, secured.password), engine=engine)

    assert pulled.digest == pushed.digest
    assert secured.password not in journal.journal_path().read_text()


@pytest.mark.engine
def test_push_and_pull_use_what_docker_login_stored(engine, base_image, token_registry,
                                                   unique_repo, local_names):
    secured = token_registry
    auth = base64.b64encode(f"{secured.username}:{secured.password}".encode()).decode()
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"  # empty per test (conftest)
    config.write_text(json.dumps({"auths": {secured.host: {"auth": auth}}}))
    ref = f"{secured.host}/{unique_repo}:stored"
    local_names.append(ref)
    local.tag(base_image, ref, engine=engine)

    pushed = local.push(ref, engine=engine)
    engine.remove(ref)
    pulled = local.pull(ref, engine=engine)

    stored = oracle.get_manifest(secured, unique_repo, "stored")
    assert pushed.digest == pulled.digest == stored.digest


# --- connecting -------------------------------------------------------------------------------

def test_no_engine_at_the_address_says_how_to_start_one():
    with pytest.raises(EngineUnavailable, match=r"sudo systemctl start docker") as caught:
        Engine.connect(base_url="unix:///nonexistent.sock")
    assert "unix:///nonexistent.sock" in str(caught.value)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to act as an unprivileged user")
def test_a_socket_that_refuses_this_user_says_how_to_join_the_docker_group():
    # A root-only socket stands in for /var/run/docker.sock; "nobody" connects to it.
    folder = tempfile.mkdtemp(prefix="rw-sock-")
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "docker.sock")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen(1)
        os.chmod(path, 0o600)
        def as_nobody(code: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                 "-c", code], capture_output=True, text=True, cwd=folder, timeout=60,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})

        if as_nobody("import registry_widgets.engine").returncode != 0:
            pytest.skip("the unprivileged user cannot read this checkout or its Python")
        done = as_nobody(f"from registry_widgets.engine import Engine\n"
                         f"Engine.connect(base_url='unix://{path}')\n")
        server.close()
    finally:
        shutil.rmtree(folder)
    assert "registry_widgets.errors.EngineUnavailable: Permission denied" in done.stderr
    assert "sudo usermod -aG docker $USER" in done.stderr


# --- local images, remove, journal ------------------------------------------------------------

@pytest.mark.engine
def test_the_tutorial_steps_each_leave_a_journal_record(engine, base_image, registry, unique_repo,
                                                        tmp_path, local_names):
    # The container runs for at least 0.3 s, so its journal record has a duration to show.
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nCMD [\"/bin/sh\", \"-c\", \"sleep 0.3; echo hi\"]\n")
    built_as = f"registry-widgets/{unique_repo}:dev"
    ref = f"{registry.host}/{unique_repo}:1"
    local_names.extend([built_as, ref])

    local.build(tmp_path, built_as, engine=engine)
    local.run(built_as, engine=engine)
    local.tag(built_as, ref, engine=engine)
    pushed = local.push(ref, engine=engine)
    removed = local.remove_local(ref, engine=engine)
    pulled = local.pull(ref, engine=engine)

    records = list(journal.read())
    assert [r["action"] for r in records] == ["build", "run", "tag", "push", "remove_local", "pull"]
    assert all(isinstance(r["duration"], float) and r["duration"] > 0 for r in records)
    assert records[1]["duration"] >= 0.3  # run: measured, not a placeholder
    assert records[2]["source"] == f"docker.io/{built_as}" and records[2]["target"] == ref
    assert records[3]["digest"] == pushed.digest == pulled.digest
    # The engine forgets the name and its repo digest; the image stays (built_as holds it).
    assert ref in removed.details["untagged"] and removed.details["deleted"] == []


@pytest.mark.engine
def test_remove_local_drops_the_image_from_local_images(engine, base_image, unique_repo, tmp_path,
                                                        local_names):
    ref = f"registry-widgets/{unique_repo}:gone"
    local_names.append(ref)
    image_id = unique_image(engine, base_image, ref, tmp_path)
    before = local.local_images(engine=engine)
    row = before[(before.repository == f"registry-widgets/{unique_repo}") & (before.tag == "gone")]
    assert list(row.image_id) == [image_id]

    removed = local.remove_local(ref, engine=engine)

    after = local.local_images(engine=engine)
    assert image_id not in set(after.image_id)
    assert image_id in removed.details["deleted"]
    with pytest.raises(NotFound):
        engine.image(ref)


@pytest.mark.engine
def test_local_images_has_one_row_per_name(engine, base_image, registry, unique_repo,
                                           local_names):
    pushed_as = f"{registry.host}/{unique_repo}:x"
    local_names.append(pushed_as)
    local.tag(base_image, pushed_as, engine=engine)
    digest = local.push(pushed_as, engine=engine).digest

    frame = local.local_images(engine=engine)

    assert list(frame.columns) == local.IMAGE_COLUMNS
    same = frame[frame.image_id == engine.image(base_image)["Id"]]
    assert same.created.dt.tz is not None and (same["size"] > 0).all()
    by_name = {(r.repository, r.tag): r.digest for r in same.itertuples()}
    assert by_name[(f"{registry.host}/{unique_repo}", "x")] == digest
    assert ("registry-widgets/busybox", "latest") in by_name


def test_images_frame_splits_names_with_ports_and_skips_dangling_images():
    summaries = [
        {"Id": "sha256:1", "RepoTags": ["127.0.0.1:5000/ns/app:1.0", "app:latest"],
         "RepoDigests": ["127.0.0.1:5000/ns/app@sha256:d1"], "Size": 10, "Created": 0},
        {"Id": "sha256:2", "RepoTags": ["<none>:<none>"], "RepoDigests": [], "Size": 5,
         "Created": 0},
        {"Id": "sha256:3", "RepoTags": None, "RepoDigests": None, "Size": 5, "Created": 0},
    ]
    frame = local.images_frame(summaries)
    assert frame[["repository", "tag"]].to_dict("records") == [
        {"repository": "127.0.0.1:5000/ns/app", "tag": "1.0"},
        {"repository": "app", "tag": "latest"},
    ]
    assert frame.digest[0] == "sha256:d1" and pd.isna(frame.digest[1])  # never pushed: no digest
    assert frame.created[0] == pd.Timestamp(0, unit="s", tz="UTC")
    empty = local.images_frame([])
    assert empty.empty and list(empty.columns) == local.IMAGE_COLUMNS

