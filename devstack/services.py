"""``scripts/services up|down|status``: long-lived local services for ``make lab`` and demos.

Unlike the test fixtures these outlive the command that starts them (own session, pid files).
Everything lives under ``$REGISTRY_WIDGETS_SERVICES`` (default ``<repo>/.state/services``);
``services.json`` there (mode 0600: it holds the throwaway demo passwords) records what ``up``
started so ``down`` and ``status`` need no memory of their own.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from . import _process
from .engine import BASE_IMAGE, EngineUnavailable, engine_pid, ensure_base_image, ensure_engine, stop_engine
from .images import seed_sample
from .registry import LocalRegistry, start_registry

DEFAULT_PORT = 5000


def state_root() -> Path:
    if os.environ.get("REGISTRY_WIDGETS_SERVICES"):
        return Path(os.environ["REGISTRY_WIDGETS_SERVICES"]).resolve()
    repo = Path(__file__).resolve().parents[1]  # devstack/services.py -> the repository
    base = repo if (repo / "pyproject.toml").exists() else Path.cwd()
    return base / ".state" / "services"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _next_free(start: int, taken: set[int]) -> int:
    port = start
    while port in taken or not _port_free(port):
        port += 1
    taken.add(port)
    return port


def _load(root: Path) -> dict:
    try:
        return json.loads((root / "services.json").read_text())
    except (OSError, ValueError):
        return {}


def _save(root: Path, state: dict) -> None:
    path = root / "services.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)


def _registry_pid(entry: dict) -> int | None:
    return _process.read_pid(Path(entry["state_dir"]) / "registry.pid", must_contain=entry["config_file"])


def _entry(reg: LocalRegistry, **extra) -> dict:
    return {"name": reg.name, "flavour": reg.flavour, "url": reg.url, "host": reg.host,
            "port": reg.port, "state_dir": str(reg.state_dir), "config_file": str(reg.config_file),
            "log_file": str(reg.log_file), "ca_file": str(reg.ca_file) if reg.ca_file else None,
            "username": reg.username, "password": reg.password, **extra}


def _engine_answers() -> bool:
    try:
        import docker
        return bool(docker.from_env().ping())
    except Exception:
        return False


def up(*, seed: bool = False) -> int:
    root = state_root()
    root.mkdir(parents=True, exist_ok=True)
    state = _load(root)
    regs = state.get("registries", {})
    if regs and all(_registry_pid(e) for e in regs.values()):
        print(f"Services already running (state in {root}).")
        return status()
    # A half-running set is restarted as a whole (simpler than repairing it); the engine is
    # slow to start and independent of the registries, so it stays.
    down(quiet=True, engine=False)

    taken: set[int] = set()
    plain_port = int(os.environ.get("REGISTRY_WIDGETS_PORT", DEFAULT_PORT))
    if not _port_free(plain_port):
        print(f"Port {plain_port} is taken by something else; set REGISTRY_WIDGETS_PORT.",
              file=sys.stderr)
        return 1
    taken.add(plain_port)
    state = {"registries": {}}
    try:
        plain = start_registry("plain", port=plain_port, state_dir=root / "plain", name="plain",
                               detach=True)
        state["registries"]["plain"] = _entry(plain)
        basic = start_registry("basic", port=_next_free(plain_port + 1, taken),
                               state_dir=root / "basic", name="basic", detach=True)
        state["registries"]["basic"] = _entry(basic)
    finally:
        _save(root, state)

    try:
        if os.environ.get("REGISTRY_WIDGETS_NO_ENGINE"):
            raise EngineUnavailable("skipped: REGISTRY_WIDGETS_NO_ENGINE is set")
        was_running = engine_pid(root) is not None or _engine_answers()
        client = ensure_engine(root)
        ensure_base_image(client, BASE_IMAGE)
        # `down` stops only an engine this `up` started: tests elsewhere may share a running one.
        state["engine"] = {"started_by_up": not was_running and engine_pid(root) is not None,
                           "base_image": BASE_IMAGE}
    except EngineUnavailable as e:
        state["engine"] = {"error": str(e).splitlines()[0]}
    _save(root, state)

    if seed:
        for reg in (plain, basic):
            seed_sample(reg)
        print("Seeded tutorial/busybox:1.0, tutorial/hello:1.0, tutorial/multiarch:1.0, demo/app "
              "and the scan samples demo/debian-app:1.0, demo/alpine-app:1.0.")
    return status()


def down(*, quiet: bool = False, engine: bool = True) -> int:
    root = state_root()
    state = _load(root)
    for name, entry in state.get("registries", {}).items():
        pid = _registry_pid(entry)
        if pid:
            _process.terminate(pid)
            quiet or print(f"stopped registry {name} ({entry['url']})")
    if state.get("token_server") and (pid := _process.read_pid(
            Path(state["token_server"]["pid_file"]), must_contain=state["token_server"]["config"])):
        # Left by an older `up`, which also ran a token-auth registry.
        _process.terminate(pid)
        quiet or print(f"stopped token server ({state['token_server']['realm']})")
    if engine and state.get("engine", {}).get("started_by_up") and stop_engine(root):
        quiet or print("stopped the Docker engine started by `up`")
    (root / "services.json").unlink(missing_ok=True)
    return 0


def status() -> int:
    root = state_root()
    state = _load(root)
    if not state:
        print(f"Nothing started (no {root / 'services.json'}); run: scripts/services up")
        return 3
    down_count = 0
    for name, e in state.get("registries", {}).items():
        running = _registry_pid(e) is not None
        down_count += not running
        print(f"{name:6} {'running' if running else 'STOPPED':8} {e['url']}")
        if e.get("ca_file"):
            print(f"         CA file: {e['ca_file']}")
        if e.get("username"):
            # Local throwaway demo credentials, shown so the demo can log in.
            print(f"         user: {e['username']}  password: {e['password']}")
    engine = state.get("engine", {})
    if "error" in engine:
        print(f"engine unavailable: {engine['error']}")
    elif engine:
        owner = f"started by up, pid {engine_pid(root)}" if engine.get("started_by_up") else \
            "already running before up; down leaves it"
        print(f"engine ({owner}); base image {engine.get('base_image')}")
    print(f"state: {root}")
    return 1 if down_count else 0
