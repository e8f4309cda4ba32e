"""Shared fixtures: real registries, a real token server and a real Docker engine.

Everything is hermetic (own free ports, temporary storage, stopped at session end) except the
Docker engine, which is machine-wide: ``docker_client`` reuses a running engine or starts one
(state under ``$REGISTRY_WIDGETS_SERVICES``, shared with ``scripts/services``) and leaves it
running, because other sessions on the machine may be using it and it is slow to start.

The fixtures use ``devstack`` (which starts the services) and ``tests/support``
(the tests' own tooling) only, never the package under test.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from devstack import EngineUnavailable, LocalRegistry, ensure_base_image, ensure_engine
from devstack.services import state_root
from tests.support import start_registry
from tests.support.ci import fail_missing_parts

ENGINE_FIXTURES = {"_docker_session"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever needs the engine is marked for it, so `-m "not engine"` works without each test
    # remembering the marker.
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engine)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # With CI=true a missing engine, browser or root fails instead of skipping (tests/support/ci.py).
    outcome = yield
    fail_missing_parts(outcome.get_result())


# Session registries, restarted before each test if an earlier test stopped one and failed
# before starting it again (stop/start is part of what tests exercise).
_SESSION_REGISTRIES: list[LocalRegistry] = []


def _start(tmp: pytest.TempPathFactory, name: str, flavour: str = "plain", **kwargs) -> LocalRegistry:
    reg = start_registry(flavour, state_dir=tmp.mktemp(name), name=name, **kwargs)  # type: ignore[arg-type]
    _SESSION_REGISTRIES.append(reg)
    return reg


@pytest.fixture(autouse=True)
def _session_registries_running() -> None:
    for reg in _SESSION_REGISTRIES:
        if not reg.is_running():
            reg.start()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """Plain HTTP registry A, anonymous, delete enabled."""
    reg = _start(tmp_path_factory, "registry-a")
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def registry_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """Plain HTTP registry B (a copy destination), delete enabled."""
    reg = _start(tmp_path_factory, "registry-b")
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """HTTPS (``ca_file`` verifies it) with htpasswd basic auth: ``username``/``password``."""
    reg = _start(tmp_path_factory, "registry-basic", "basic")
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def nodelete_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """Plain registry with ``delete: enabled: false`` (distribution's default): deletes get 405."""
    reg = _start(tmp_path_factory, "registry-nodelete", delete=False)
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def _token_registry_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    reg = _start(tmp_path_factory, "registry-token", "token",
                 users={"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)},
                 grants={"alice": {"*": ["*"], "registry:catalog": ["*"]}, "bob": {"*": ["pull"]}})
    yield reg
    reg.close()


@pytest.fixture
def token_registry(_token_registry_session: LocalRegistry) -> Iterator[LocalRegistry]:
    """Token-auth registry (session-wide process); its ``token_server`` is the ``TokenServer``.

    Users: ``alice`` (= username/password: pull, push, delete everywhere, plus the catalog) and
    ``bob`` (pull only; password in ``token_server.users["bob"]``). The token server's knobs
    (log, ``expire_next``, lifetime, users, grants) are reset around every test.
    """
    reg = _token_registry_session
    ts = reg.token_server
    assert ts is not None
    saved = (dict(ts.users), {u: dict(g) for u, g in ts.grants.items()}, dict(ts.anonymous),
             ts.lifetime)
    ts.reset_log()
    ts.expire_next(0)
    yield reg
    ts.users, ts.grants, ts.anonymous, ts.lifetime = saved
    ts.expire_next(0)
    ts.reset_log()


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., LocalRegistry]]:
    """``registry_factory(flavour="plain", **start_registry_kwargs)``; all stopped at test end."""
    started: list[LocalRegistry] = []

    def factory(flavour: str = "plain", **kwargs) -> LocalRegistry:
        kwargs.setdefault("state_dir", tmp_path / f"registry-{len(started)}-{flavour}")
        reg = start_registry(flavour, **kwargs)  # type: ignore[arg-type]
        started.append(reg)
        return reg

    yield factory
    for reg in started:
        reg.close()


@pytest.fixture
def embedded(registry_factory, tmp_path, monkeypatch):
    """A fresh registry listed in services.json as ``make lab``'s is (``scripts/services``):
    garbage collection can pause it, and prune reads its storage for untagged manifests."""
    reg = registry_factory()
    root = tmp_path / "services"
    root.mkdir()
    (root / "services.json").write_text(json.dumps({"registries": {"plain": {
        "host": reg.host, "config_file": str(reg.config_file),
        "state_dir": str(reg.state_dir)}}}))
    monkeypatch.setenv("REGISTRY_WIDGETS_SERVICES", str(root))
    yield reg
    # collect_garbage may have restarted it: stop it by its pid file, not the first Popen.
    reg._popen = None
    reg.stop()


@pytest.fixture(scope="session")
def _docker_session() -> Iterator[docker.DockerClient]:
    try:
        client = ensure_engine(state_root())
    except EngineUnavailable as e:
        pytest.skip(f"no Docker engine: {e}")
    yield client
    client.close()


@pytest.fixture
def docker_client(_docker_session: docker.DockerClient, state_dir: Path) -> docker.DockerClient:
    """A client for a running Docker engine (started if needed; containers need
    ``network_mode="none"``). One client per session, but its credentials are re-read for every
    test: docker-py keeps ``login()`` results and the config it read in memory, which would
    otherwise leak from one test into the next (depends on ``state_dir``: empty DOCKER_CONFIG).
    """
    _docker_session.api.reload_config()
    return _docker_session


@pytest.fixture(scope="session")
def base_image(_docker_session: docker.DockerClient) -> str:
    """Reference of a runnable busybox image in the engine, imported offline."""
    return ensure_base_image(_docker_session)


@pytest.fixture
def unique_repo() -> str:
    """A fresh repository path, so tests sharing a session registry never collide."""
    return f"ns-{secrets.token_hex(3)}/app-{secrets.token_hex(3)}"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-test journals and caches, and an empty DOCKER_CONFIG: never the developer's."""
    state = tmp_path / "state"
    for name, path in (("REGISTRY_WIDGETS_STATE", state), ("XDG_CACHE_HOME", tmp_path / "cache"),
                       ("DOCKER_CONFIG", tmp_path / "docker-config")):
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    return state


@pytest.fixture
def engine(docker_client: docker.DockerClient):
    """The package's ``Engine`` on the session's real Docker engine."""
    from registry_widgets.engine import Engine

    return Engine(docker_client)


@pytest.fixture
def local_names(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Append engine image names a test creates; they are removed after it."""
    names: list[str] = []
    yield names
    for name in names:
        try:
            docker_client.images.remove(name, force=True)
        except docker.errors.APIError:  # already gone
            pass
