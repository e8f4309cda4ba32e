"""``collect_garbage``: free the storage that deletes left behind, on the embedded registry.

A DELETE on CNCF distribution only unlinks a manifest; the blobs stay on disk until the
operator runs ``registry garbage-collect CONFIG`` (docs: "Garbage collection"), which marks
every blob some manifest still references and sweeps the rest. Distribution requires the
registry not to accept writes meanwhile: "the registry must be in read-only mode or not
running", or an upload racing the sweep loses its layers. So, for the registry that
``make lab`` runs (``scripts/services``: its config and pid file under
``$REGISTRY_WIDGETS_SERVICES``), or any local one given by its ``config`` file:

1. ``garbage-collect --dry-run`` first (the registry keeps serving): what would go;
2. a read-only pause: the registry is restarted with ``storage.maintenance.readonly``
   enabled (pulls keep working, pushes and deletes get 405 for a few seconds);
3. ``garbage-collect`` itself, then the registry restarted with its own config;
4. the bytes freed, measured on disk (blob files before minus after), not estimated.

``delete_untagged=True`` adds ``--delete-untagged``: manifests no tag references go too
(the platforms of a deleted index, the images whose last tag ``retention`` removed). After a
collection, a ``restore`` of what was deleted before it fails with a clear message: its blobs
are gone. For other registries, :func:`garbage_collection_help` says what their GC is.

Layer 3: imports ``errors``, ``paths``, ``reference`` and ``journal``/``result``. It runs
the ``docker-registry`` (or ``registry``) binary and signals only the process whose pid file
and command line name that registry's config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ... import paths
from ...errors import InvalidArgument, NotFound, RegistryWidgetsError
from ...reference import validate_registry
from ..core import journal
from ..core.arguments import check_bool
from ..core.result import Result, Timer, human_size

READY_TIMEOUT = 30.0
_ELIGIBLE = re.compile(r"blob eligible for deletion: (sha256:[0-9a-f]{64})")
_MANIFEST = re.compile(r"manifest eligible for deletion: (sha256:[0-9a-f]{64})")

OTHER_REGISTRIES = {
    "distribution": (
        "CNCF distribution (registry:2, Docker's registry, GitLab's): the operator runs "
        "`registry garbage-collect [--dry-run] [--delete-untagged] /etc/docker/registry/config.yml` "
        "on the registry's host while the registry is stopped or in read-only mode "
        "(storage: maintenance: readonly: enabled: true); in a container: `docker exec "
        "<registry> registry garbage-collect /etc/docker/registry/config.yml`."),
    "harbor": (
        "Harbor: Administration > Clean Up > Garbage Collection (a dry run first, then Run "
        "Now or a schedule), or POST /api/v2.0/system/gc/schedule with {\"schedule\": "
        "{\"type\": \"Manual\"}, \"parameters\": {\"dry_run\": true}}; needs an admin."),
    "icr.io": (
        "IBM Cloud Container Registry collects garbage itself; deleted images stay in the "
        "trash for 30 days (`ibmcloud cr trash-list`, `ibmcloud cr image-restore`), and "
        "`ibmcloud cr image-prune-untagged` removes untagged images."),
    "ghcr.io": (
        "GitHub Container Registry reclaims storage itself; untagged versions are deleted from "
        "the package's settings or with the REST API (DELETE /user/packages/container/<name>/"
        "versions/<id>); deleted versions can be restored for 30 days."),
    "docker.io": (
        "Docker Hub reclaims storage itself; untagged images are removed from the repository's "
        "Tags page (or by Docker Hub's image retention policies on paid plans)."),
    "quay.io": "Quay collects garbage itself once a tag's time machine window has passed.",
    "ecr": ("Amazon ECR reclaims storage itself; lifecycle policies (`aws ecr "
            "put-lifecycle-policy`) expire untagged or old images."),
}


def garbage_collection_help(registry: str) -> str:
    """What ``registry``'s own garbage collection is and how it is run."""
    host = validate_registry(registry).rpartition("://")[2]
    for key in ("icr.io", "ghcr.io", "quay.io"):
        if host == key or host.endswith("." + key):
            return OTHER_REGISTRIES[key]
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return OTHER_REGISTRIES["docker.io"]
    if ".dkr.ecr." in host:
        return OTHER_REGISTRIES["ecr"]
    return (f"{host} is not the embedded registry, so collect_garbage() cannot run its garbage "
            f"collection. If it is CNCF distribution: {OTHER_REGISTRIES['distribution']} If it "
            f"is Harbor: {OTHER_REGISTRIES['harbor']}")


# -- finding the embedded registry ----------------------------------------------------------

@dataclass(frozen=True)
class EmbeddedRegistry:
    host: str
    config_file: Path
    pid_file: Path
    log_file: Path
    storage: Path


def _from_config(config_file: Path, host: str | None = None) -> EmbeddedRegistry:
    config_file = Path(config_file).resolve()
    try:
        config = yaml.safe_load(config_file.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise NotFound(f"cannot read the registry config {config_file}: {e}; nothing was done",
                       reference=str(config_file)) from None
    storage = ((config or {}).get("storage") or {}).get("filesystem", {}).get("rootdirectory")
    if not storage:
        raise InvalidArgument(f"{config_file} has no filesystem storage; collect_garbage() only "
                              "runs on a local filesystem registry. Nothing was done",
                              reference=str(config_file))
    addr = ((config.get("http") or {}).get("addr")) or ""
    return EmbeddedRegistry(host or addr, config_file, config_file.parent / "registry.pid",
                            config_file.parent / "registry.log", Path(storage))


def embedded_registry(registry: str) -> EmbeddedRegistry | None:
    """The registry ``scripts/services up`` runs at ``registry`` (host:port), if any."""
    host = validate_registry(registry).rpartition("://")[2]
    try:
        state = json.loads((paths.services_dir() / "services.json").read_text())
    except (OSError, ValueError):
        return None
    for entry in (state.get("registries") or {}).values():
        if entry.get("host") == host and entry.get("config_file"):
            return _from_config(Path(entry["config_file"]), host)
    return None


# -- processes --------------------------------------------------------------------------------

def _binary() -> str:
    found = shutil.which("docker-registry") or shutil.which("registry")
    if not found:
        raise RegistryWidgetsError("garbage collection needs distribution's binary "
                                   "(docker-registry on Debian: apt-get install docker-registry); "
                                   "nothing was done")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited child not yet reaped still answers kill(0)
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _running_pid(reg: EmbeddedRegistry) -> int | None:
    try:
        pid = int(reg.pid_file.read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    # The command line must name this config: a stale pid file never signals a stranger.
    return pid if _alive(pid) and str(reg.config_file) in cmd else None


def _stop(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _port_answers(host: str) -> bool:
    name, _, port = host.rpartition(":")
    try:
        with socket.create_connection((name or "127.0.0.1", int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def _serve(reg: EmbeddedRegistry, config: Path) -> int:
    with open(reg.log_file, "ab") as log:
        proc = subprocess.Popen([_binary(), "serve", str(config)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    reg.pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while not _port_answers(reg.host):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RegistryWidgetsError(f"the registry {reg.host} did not come back after garbage "
                                       f"collection; see {reg.log_file}", registry=reg.host)
        time.sleep(0.05)
    return proc.pid


def _wait_port_free(host: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _port_answers(host) and time.monotonic() < deadline:
        time.sleep(0.05)


def blob_bytes(storage: Path) -> int:
    """Bytes of every blob file under the registry's storage (what GC can free)."""
    root = storage / "docker" / "registry" / "v2" / "blobs"
    return sum(p.stat().st_size for p in root.rglob("data") if p.is_file()) if root.exists() else 0


def _blob_size(storage: Path, digest: str) -> int:
    algorithm, _, hex_ = digest.partition(":")
    path = storage / "docker" / "registry" / "v2" / "blobs" / algorithm / hex_[:2] / hex_ / "data"
    return path.stat().st_size if path.exists() else 0


def _garbage_collect(reg: EmbeddedRegistry, *, dry_run: bool, delete_untagged: bool) -> str:
    argv = [_binary(), "garbage-collect", str(reg.config_file)]
    argv += ["--dry-run"] if dry_run else []
    argv += ["--delete-untagged"] if delete_untagged else []
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RegistryWidgetsError(f"garbage-collect on {reg.host} failed (exit "
                                   f"{done.returncode}): {done.stderr.strip()[-500:]}",
                                   registry=reg.host)
    return done.stdout + done.stderr


# -- the verb ---------------------------------------------------------------------------------

def collect_garbage(registry: str = "127.0.0.1:5000", *, config: str | os.PathLike[str] | None = None,
                    delete_untagged: bool = False, dry_run: bool = False) -> Result:
    """Run distribution's garbage collection on the embedded registry and report the bytes
    freed (measured on disk). ``registry`` is the host:port ``make lab`` serves; ``config``
    names the distribution config of another local registry instead. ``dry_run=True`` only
    runs ``garbage-collect --dry-run``. For a registry this package does not run, nothing is
    done and ``details["how"]`` says how that registry collects its garbage.

    ``result.details``: ``eligible_blobs`` and ``eligible_bytes`` (from the dry run),
    ``bytes_freed`` (measured), ``manifests_deleted`` (with ``delete_untagged``),
    ``read_only_seconds`` (the pause) and ``output`` (the tool's last lines).
    """
    check_bool("delete_untagged", delete_untagged)
    check_bool("dry_run", dry_run)
    reg = _from_config(Path(config)) if config is not None else embedded_registry(registry)
    target = reg.host if reg else validate_registry(registry)
    result = Result(action="collect_garbage", target=target)
    if reg is None:
        result.changed = False
        result.details = {"embedded": False, "how": garbage_collection_help(registry)}
        return result
    with Timer() as timer:
        preview = _garbage_collect(reg, dry_run=True, delete_untagged=delete_untagged)
        eligible = sorted(set(_ELIGIBLE.findall(preview)))
        manifests = sorted(set(_MANIFEST.findall(preview)))
        result.details = {
            "embedded": True, "config": str(reg.config_file), "storage": str(reg.storage),
            "delete_untagged": delete_untagged, "eligible_blobs": eligible,
            "eligible_bytes": sum(_blob_size(reg.storage, d) for d in eligible),
            "manifests_deleted": manifests, "bytes_freed": 0, "read_only_seconds": 0.0}
        if dry_run or not eligible and not manifests:
            result.changed, result.dry_run = False, dry_run
            result.details["output"] = preview.strip().splitlines()[-5:]
        else:
            before = blob_bytes(reg.storage)
            output = _collect_read_only(reg, delete_untagged, result)
            result.details["bytes_freed"] = before - blob_bytes(reg.storage)
            result.details["output"] = output.strip().splitlines()[-5:]
    result.duration = timer.elapsed
    result.details["summary"] = (
        f"{'would free' if result.dry_run else 'freed'} "
        f"{human_size(result.details['eligible_bytes'] if result.dry_run else result.details['bytes_freed'])}"
        f" ({len(eligible)} blobs) on {reg.host}")
    if not dry_run:
        journal.record(result)
    return result


def _collect_read_only(reg: EmbeddedRegistry, delete_untagged: bool, result: Result) -> str:
    """Pause the registry read-only, collect, and bring it back as it was, whatever happens."""
    pid = _running_pid(reg)
    read_only = reg.config_file.with_name(reg.config_file.name + ".read-only.yml")
    config = yaml.safe_load(reg.config_file.read_text())
    config.setdefault("storage", {}).setdefault("maintenance", {})["readonly"] = {"enabled": True}
    read_only.write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.monotonic()
    paused: int | None = None
    try:
        if pid is not None:
            _stop(pid)
            _wait_port_free(reg.host)
            paused = _serve(reg, read_only)
        return _garbage_collect(reg, dry_run=False, delete_untagged=delete_untagged)
    finally:
        if paused is not None:
            _stop(paused)
            _wait_port_free(reg.host)
        if pid is not None:
            _serve(reg, reg.config_file)
        result.details["read_only_seconds"] = round(time.monotonic() - started, 3)
        read_only.unlink(missing_ok=True)
