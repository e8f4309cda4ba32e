"""Start real CNCF distribution registries for tests and demos.

``start_registry()`` writes a distribution config (docs/configuration.md), runs
``docker-registry serve CONFIG`` (Debian's name for distribution 2.8) bound to 127.0.0.1, and
waits until ``/v2/`` answers. Without the binary it falls back to the ``registry:2`` container
on a Docker engine that already has it (best effort: nothing may be pulled here).

Flavours: ``plain`` (HTTP, anonymous), ``basic`` (HTTPS with a generated CA + htpasswd/bcrypt),
``token`` (HTTP + ``auth: token`` against a token server the caller runs: anything with
``realm``, ``service``, ``issuer``, ``cert_file`` and ``users``; the tests' own is
``tests/support/token_server.py``).

Imports nothing from registry_widgets, so the tests can trust what it starts.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import requests
import yaml

from . import _process
from .tls import make_server_tls


class TokenServer(Protocol):
    """What the ``token`` flavour needs of a token server (distribution's ``auth: token``)."""
    realm: str
    service: str
    issuer: str
    cert_file: Path
    users: dict[str, str]

    def start(self) -> object: ...
    def stop(self) -> None: ...
    def is_running(self) -> bool: ...


Flavour = Literal["plain", "basic", "token"]
FLAVOURS = ("plain", "basic", "token")
DEFAULT_USER = "alice"
_PORT_RETRIES = 5
_READY_TIMEOUT = 30.0


def _binary() -> str | None:
    # Debian ships distribution as docker-registry; upstream release tarballs call it registry.
    return shutil.which("docker-registry") or shutil.which("registry")


def _htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (distribution's htpasswd auth accepts only bcrypt)."""
    if shutil.which("htpasswd"):
        # -i reads the password from stdin, so it never shows up in `ps`.
        out = subprocess.run(["htpasswd", "-iBn", user], input=password, text=True,
                             capture_output=True, check=True).stdout
        return out.strip()
    try:
        import bcrypt  # type: ignore[import-not-found]
    except ImportError as e:
        raise RuntimeError("The basic flavour needs `htpasswd` (Debian package apache2-utils) "
                           "or the Python package bcrypt.") from e
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}"


@dataclass(repr=False)
class LocalRegistry:
    """A running (or stopped) local registry. ``host`` is what goes in an image reference."""

    flavour: str
    port: int
    storage: Path
    state_dir: Path
    log_file: Path
    config_file: Path
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    delete_enabled: bool = True
    token_server: TokenServer | None = None
    name: str = "registry"
    detach: bool = False
    _owns_state: bool = field(default=False, compare=False)
    _owns_token_server: bool = field(default=False, compare=False)
    _popen: subprocess.Popen | None = field(default=None, compare=False)
    _container: object | None = field(default=None, compare=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://{self.host}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "registry.pid"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username and self.password else None

    def __repr__(self) -> str:  # never the password
        return (f"LocalRegistry(name={self.name!r}, flavour={self.flavour!r}, url={self.url!r}, "
                f"storage={str(self.storage)!r}, username={self.username!r}, "
                f"delete_enabled={self.delete_enabled}, running={self.is_running()})")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "LocalRegistry":
        """(Re)start on the same port, storage and config; returns once ``/v2/`` answers."""
        if self.is_running():
            return self
        if self._owns_token_server and not self.token_server.is_running():  # type: ignore[union-attr]
            self.token_server.start()  # type: ignore[union-attr]
        if _binary():
            self._start_process()
        else:
            self._start_container()
        return self

    def stop(self) -> None:
        """Stop the registry (and its token server); storage and config stay for ``start()``."""
        if self._popen is not None:
            _process.terminate(self._popen.pid, popen=self._popen)
            self._popen = None
        elif self._container is not None:
            self._container.stop(timeout=10)  # type: ignore[attr-defined]
            self._container.remove(force=True)  # type: ignore[attr-defined]
            self._container = None
        else:  # started by another process (scripts/services): go by the pid file
            pid = _process.read_pid(self.pid_file, must_contain=str(self.config_file))
            if pid is not None:
                _process.terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        if self._owns_token_server:
            self.token_server.stop()  # type: ignore[union-attr]

    def close(self) -> None:
        """Stop, and delete the state directory if ``start_registry`` created it."""
        self.stop()
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def is_running(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        if self._container is not None:
            try:
                self._container.reload()  # type: ignore[attr-defined]
                return self._container.status == "running"  # type: ignore[attr-defined]
            except Exception:
                return False
        return _process.read_pid(self.pid_file, must_contain=str(self.config_file)) is not None

    def answers(self) -> bool:
        """True when ``/v2/`` answers at all (200 anonymous, 401 with auth)."""
        with requests.Session() as session:
            session.trust_env = False  # loopback: no proxy from the environment
            try:
                r = session.get(f"{self.url}/v2/", timeout=2,
                                verify=str(self.ca_file) if self.ca_file else True)
            except requests.RequestException:
                return False
        return r.status_code in (200, 401)

    def __enter__(self) -> "LocalRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runners -----------------------------------------------------------------------------
    def _start_process(self) -> None:
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._popen = _process.spawn([_binary() or "docker-registry", "serve", str(self.config_file)],
                                     log_file=self.log_file, detach=self.detach)
        self.pid_file.write_text(f"{self._popen.pid}\n")
        try:
            _process.wait_until(self.answers, timeout=_READY_TIMEOUT, log_file=self.log_file,
                                alive=lambda: self._popen is not None and self._popen.poll() is None,
                                what=f"registry {self.name} on {self.host}")
        except RuntimeError as e:
            self.stop()
            if "address already in use" in self.log_file.read_text(errors="replace")[offset:]:
                raise PortInUse(str(e)) from e
            raise

    def _start_container(self) -> None:
        # Code path for machines with an engine but no binary; it cannot run on the CI machines.
        # The same absolute paths are bind-mounted, so the config file works unchanged, and host
        # networking keeps the 127.0.0.1 bind (engines here may have no bridge).
        try:
            import docker
            client = docker.from_env()
            client.ping()
            client.images.get("registry:2")
        except Exception as e:
            raise RuntimeError(
                "Neither the docker-registry binary (apt-get install docker-registry) nor a Docker "
                "engine with the registry:2 image is available to run a local registry.") from e
        mounts = {str(p): {"bind": str(p), "mode": "rw"} for p in {self.state_dir, self.storage}}
        # The image's entrypoint turns ["serve", CONFIG] into `registry serve CONFIG`.
        self._container = client.containers.run(
            "registry:2", ["serve", str(self.config_file)], detach=True, network_mode="host",
            volumes=mounts, name=f"registry-widgets-{self.name}-{self.port}")
        try:
            _process.wait_until(self.answers, timeout=_READY_TIMEOUT, alive=self.is_running,
                                what=f"registry container {self.name} on {self.host}")
        except RuntimeError:
            self.stop()
            raise


class PortInUse(RuntimeError):
    """The chosen port was taken between picking it and the registry binding it."""


def _config(reg: LocalRegistry, *, htpasswd: Path | None, tls: tuple[Path, Path] | None,
            catalog_maxentries: int | None) -> dict:
    config: dict = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(reg.storage)},
            # Off by default in distribution; the package's remove verb needs it (405 otherwise).
            "delete": {"enabled": reg.delete_enabled},
            # No blob descriptor cache: after a delete it would keep answering for gone blobs.
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        # A fixed secret keeps upload session state valid across stop()/start().
        "http": {"addr": reg.host, "secret": secrets.token_hex(16)},
    }
    if tls:
        config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    if htpasswd:
        config["auth"] = {"htpasswd": {"realm": "registry-widgets", "path": str(htpasswd)}}
    if reg.token_server is not None:
        ts = reg.token_server
        config["auth"] = {"token": {"realm": ts.realm, "service": ts.service,
                                    "issuer": ts.issuer, "rootcertbundle": str(ts.cert_file)}}
    if catalog_maxentries is not None:
        config["catalog"] = {"maxentries": catalog_maxentries}
    return config


def start_registry(flavour: Flavour = "plain", *, port: int = 0, storage: Path | str | None = None,
                   delete: bool = True, state_dir: Path | str | None = None,
                   catalog_maxentries: int | None = None, name: str | None = None,
                   users: dict[str, str] | None = None,
                   token_server: TokenServer | None = None, owns_token_server: bool = False,
                   detach: bool = False) -> LocalRegistry:
    """Start a registry on 127.0.0.1 and return once it answers.

    ``port=0`` picks a free port. ``basic`` ``users`` default to ``alice`` with a random
    password. ``token`` needs a running ``token_server``; its ``users`` supply
    username/password, and with ``owns_token_server`` the registry's ``stop``/``start`` stop and
    restart it too. ``username``/``password`` on the result are the first user's. ``detach``
    lets the process outlive this Python process.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown registry flavour {flavour!r}; choose one of {FLAVOURS}")
    owns_state = state_dir is None
    state = Path(state_dir or tempfile.mkdtemp(prefix=f"registry-widgets-{flavour}-")).resolve()
    state.mkdir(parents=True, exist_ok=True)
    name = name or flavour
    reg = LocalRegistry(flavour=flavour, port=port, name=name, detach=detach,
                        storage=Path(storage or state / "storage").resolve(), state_dir=state,
                        log_file=state / "registry.log", config_file=state / "config.yml",
                        delete_enabled=delete, _owns_state=owns_state)
    reg.storage.mkdir(parents=True, exist_ok=True)

    htpasswd = tls = None
    if flavour == "basic":
        users = users or {DEFAULT_USER: secrets.token_urlsafe(12)}
        htpasswd = state / "htpasswd"
        htpasswd.write_text("".join(_htpasswd_line(u, p) + "\n" for u, p in users.items()))
        server_tls = make_server_tls(state / "tls")
        reg.ca_file, tls = server_tls.ca_file, (server_tls.cert_file, server_tls.key_file)
    elif flavour == "token":
        if token_server is None:
            raise ValueError("the token flavour needs a running token_server= "
                             "(the tests' own: tests.support.start_registry)")
        reg.token_server, users = token_server, users or token_server.users
        reg._owns_token_server = owns_token_server
    if users and flavour != "plain":
        reg.username, reg.password = next(iter(users.items()))

    for attempt in range(_PORT_RETRIES):
        if port == 0:
            reg.port = _process.free_port()
        reg.config_file.write_text(yaml.safe_dump(
            _config(reg, htpasswd=htpasswd, tls=tls, catalog_maxentries=catalog_maxentries),
            sort_keys=False))
        try:
            return reg.start()
        except PortInUse:
            if port != 0 or attempt == _PORT_RETRIES - 1:
                reg.close()
                raise
        except BaseException:
            reg.close()
            raise
    raise AssertionError("unreachable")
