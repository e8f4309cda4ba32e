"""The local Docker engine: pull, push, tag, build, run and remove images, as the tutorial
"Adding images to your namespace" does with the ``docker`` CLI.

A thin layer over the Docker SDK's low-level ``APIClient`` (docs: docker-py
``docker/api/image.py``, ``docker/api/build.py``). Two choke points:

* ``_engine_errors`` turns every SDK/transport exception into this package's errors;
* ``_consume`` reads every streaming answer (pull, push, build): it turns events into
  ``ProgressEvent``s and raises on the ``error``/``errorDetail`` events that the engine sends
  INSIDE a 200 stream, which the SDK itself never raises (REGISTRY-NOTES, "Docker engine").

Layer 2: imports only ``errors``, ``progress``, ``reference``, ``credentials`` and ``docker``.
Secrets go to the engine in ``auth_config`` and nowhere else: never logged, never in errors.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import docker
import docker.errors
import requests.exceptions

from .credentials import credentials_from, docker_auth_config
from .errors import (LOGIN_HINT, BadReference, Cancelled, Denied, EngineError,
                     EngineUnavailable, InsecureRegistry, NotFound, RegistryWidgetsError,
                     Unauthorized, Unreachable)
from .progress import ProgressCallback, ProgressEvent, emit
from .reference import Reference, parse_reference

log = logging.getLogger(__name__)

START_HINT = "start the Docker engine (e.g. `sudo systemctl start docker` or `sudo dockerd`)"
PERMISSION_HINT = ("add your user to the docker group (`sudo usermod -aG docker $USER`, "
                   "then log in again) or use sudo")

# Build output carries the step's stderr wrapped in terminal colour codes.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REMOTE = {"pull", "push"}
# How the engine and the registry say "no such thing". Deliberately not a bare "not found":
# a build's "COPY failed: file not found in build context" is a build error, not a 404.
_NOT_FOUND = ("manifest unknown", "name unknown", "no such image", "repository does not exist",
              "manifest for ")


def _local_name(ref: Reference) -> str:
    """The name the engine knows the image by: ``registry/repo@digest`` or ``registry/repo:tag``
    (the engine treats ``docker.io/library/x`` and ``x`` as the same name)."""
    return f"{ref.name}@{ref.digest}" if ref.digest else f"{ref.name}:{ref.tag}"


def tagged_reference(ref: Reference | str, action: str) -> Reference:
    """``ref`` parsed, refusing a digest: a name the engine writes (push, tag, build) needs a
    tag, and the SDK would push EVERY tag of the repository when given none."""
    ref = parse_reference(ref)
    if ref.digest or not ref.tag:
        raise BadReference(f"{action} needs a tag, not a digest: {ref}. Use the form "
                           "registry/namespace/repository:tag", reference=str(ref))
    return ref


# --- errors: the one place where the engine's failures become ours -------------------------

def _translate(message: str, *, action: str, ref: Reference | None,
               status: int | None = None) -> RegistryWidgetsError:
    """Classify an engine error message (from an HTTP error or from inside a stream)."""
    # Only pull and push talk to a registry; for a local image "docker.io" would mislead.
    registry = ref.registry if ref is not None and action in _REMOTE else None
    where = f" {ref}" if ref is not None else ""
    on = f" on registry {registry}" if registry else ""
    text = f"{action}{where} failed{on}: {message}"
    kwargs: dict[str, Any] = {"registry": registry, "reference": str(ref) if ref else None}
    lowered = message.lower()
    login = LOGIN_HINT.format(registry=registry or "<registry>")
    if "unauthorized" in lowered or "authentication required" in lowered or status == 401:
        return Unauthorized(f"{text}. {login}", status=401, **kwargs)
    if any(s in lowered for s in _NOT_FOUND) or status == 404:
        # Docker Hub answers "does not exist or may require 'docker login'" for both cases.
        extra = f" {login}" if "login" in lowered else ""
        return NotFound(f"{text}. Check the repository and tag (`local_images()` lists local "
                        f"images, the registry's tag list the remote ones).{extra}",
                        status=404, **kwargs)
    if "denied" in lowered or status == 403:
        return Denied(f"{text}. Check that your account may {action} in this namespace. {login}",
                      status=403, **kwargs)
    if "server gave http response to https client" in lowered:
        return InsecureRegistry(
            f"{text}. The registry speaks plain HTTP: add it to \"insecure-registries\" in the "
            "engine's daemon.json and restart the engine.", **kwargs)
    if any(s in lowered for s in ("connection refused", "no such host", "i/o timeout",
                                  "no route to host", "tls:", "x509:")):
        return Unreachable(f"{text}. Check the registry's address and that it is running.",
                           **kwargs)
    return EngineError(text, **kwargs)


def _unavailable(error: BaseException, base_url: str | None) -> EngineUnavailable:
    """Say why no engine answered, with the fix the tutorial gives for each case."""
    cause: BaseException | None = error
    denied = False
    while cause is not None:  # the SDK wraps the socket's OSError several layers deep
        if isinstance(cause, PermissionError):
            denied = True
        cause = cause.__cause__ or cause.__context__
    denied = denied or "permission denied" in str(error).lower()
    where = base_url or os.environ.get("DOCKER_HOST") or "the default socket"
    if denied:
        return EngineUnavailable(
            f"Permission denied on the Docker engine at {where}: {PERMISSION_HINT}.")
    return EngineUnavailable(f"No Docker engine answers at {where}: {START_HINT}.")


@contextmanager
def _engine_errors(action: str, ref: Reference | None = None,
                   base_url: str | None = None) -> Iterator[None]:
    """Translate the SDK's exceptions raised inside the block, ``raise ... from e``."""
    try:
        yield
    except RegistryWidgetsError:
        raise
    except docker.errors.ImageNotFound as e:
        raise _translate(e.explanation or str(e), action=action, ref=ref, status=404) from e
    except docker.errors.APIError as e:
        # explanation is the engine's message; str(e) would add the engine's request URL.
        raise _translate(e.explanation or str(e), action=action, ref=ref,
                         status=e.status_code) from e
    except docker.errors.BuildError as e:
        raise _translate(e.msg, action=action, ref=ref) from e
    except requests.exceptions.ConnectionError as e:
        raise _unavailable(e, base_url) from e
    except docker.errors.DockerException as e:
        if isinstance(e.__cause__ or e.__context__, requests.exceptions.ConnectionError):
            raise _unavailable(e, base_url) from e
        raise EngineError(f"{action}{f' {ref}' if ref else ''} failed: {e}",
                          registry=ref.registry if ref else None,
                          reference=str(ref) if ref else None) from e


# --- streams: the one place where progress events are read ---------------------------------

@dataclass
class _Outcome:
    """What a stream said besides progress: ``aux`` payloads and plain status lines."""

    aux: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


class _Streams(threading.local):
    """The engine responses a cancellable call of this thread is reading (see
    ``Engine._streaming``): Cancel shuts their sockets."""

    watched: list[Any] | None = None


_streams = _Streams()


def _shut(response: Any) -> None:
    # shutdown, not close: it wakes the thread blocked reading the socket at once, and the
    # engine, seeing its client gone, stops the build or the push (its context is cancelled).
    try:
        raw = response.raw._fp.fp.raw
        sock = getattr(raw, "_sock", None) or getattr(raw, "sock", None) or raw
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        response.close()


@contextmanager
def _cancellable(action: str, ref: Reference, cancel: threading.Event | None) -> Iterator[None]:
    """Stop the stream read in the block within moments of ``cancel`` being set, even while
    the engine sends nothing (a quiet RUN step, a slow upload), and raise ``Cancelled``.

    The progress callback cannot do it: ``progress.emit`` swallows what a callback raises, by
    design, so the engine's sockets are shut from a watcher thread instead."""
    if cancel is None:
        yield
        return
    if cancel.is_set():
        raise Cancelled(f"{action} {ref} cancelled before it started; nothing changed",
                        reference=str(ref))
    watched: list[Any] = []
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            if cancel.wait(0.1):
                for response in list(watched):
                    _shut(response)
                return

    _streams.watched = watched
    watcher = threading.Thread(target=watch, name=f"cancel-{action}", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as e:
        if cancel.is_set():
            raise Cancelled(f"{action} {ref} stopped by Cancel; run it again to finish it",
                            reference=str(ref)) from e
        raise
    finally:
        _streams.watched = None
        finished.set()
        watcher.join()
    if cancel.is_set():  # the stream ended as its socket was shut
        raise Cancelled(f"{action} {ref} stopped by Cancel; run it again to finish it",
                        reference=str(ref))


def _consume(stream: Iterable[Mapping[str, Any]], *, action: str, ref: Reference,
             progress: ProgressCallback | None) -> _Outcome:
    outcome = _Outcome()
    for event in stream:
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail") or {}
            message = detail.get("message") or event.get("error") or "unknown error"
            raise _translate(str(message), action=action, ref=ref)
        if "aux" in event and isinstance(event["aux"], dict):
            outcome.aux.append(event["aux"])
        if "stream" in event:  # build output, possibly several lines at once
            for line in _ANSI.sub("", str(event["stream"])).splitlines():
                if line.strip():
                    emit(progress, ProgressEvent(action, status="log", message=line))
        elif "status" in event:
            detail = event.get("progressDetail") or {}
            status = str(event["status"])
            total = detail.get("total")
            if not event.get("id"):
                outcome.statuses.append(status)
            emit(progress, ProgressEvent(
                action, id=str(event.get("id") or ""), status=status,
                current=int(detail.get("current") or 0),
                total=int(total) if total and total > 0 else None,
                message=str(event.get("progress") or "")))
    return outcome


# --- the engine ------------------------------------------------------------------------------

class Engine:
    """A Docker engine, reached through the SDK. ``Engine.connect()`` or ``Engine(client)``."""

    def __init__(self, client: docker.DockerClient, *, base_url: str | None = None):
        self.client = client
        self.api: docker.APIClient = client.api
        self.base_url = base_url
        # Every stream the SDK opens passes its response here: a cancellable call of this
        # thread keeps it, so that Cancel can shut its socket (``_cancellable``).
        helper = self.api._stream_helper

        def streaming(response: Any, *args: Any, **kwargs: Any) -> Any:
            if _streams.watched is not None:
                _streams.watched.append(response)
            return helper(response, *args, **kwargs)

        self.api._stream_helper = streaming  # type: ignore[method-assign]

    @classmethod
    def connect(cls, base_url: str | None = None, *, timeout: int = 120) -> "Engine":
        """Connect to the engine at ``base_url`` (``unix:///var/run/docker.sock``,
        ``tcp://host:2375``), else where ``DOCKER_HOST`` says. Raises ``EngineUnavailable``
        with the fix when none answers or its socket refuses this user."""
        with _engine_errors("connect", base_url=base_url):
            client = (docker.DockerClient(base_url=base_url, timeout=timeout) if base_url
                      else docker.from_env(timeout=timeout))
            client.ping()
        return cls(client, base_url=base_url)

    def _auth(self, ref: Reference, credentials: Any) -> dict[str, Any] | None:
        # Same credentials as the registry client, so `docker login` works for both.
        return docker_auth_config(credentials_from(credentials, ref.registry))

    def pull(self, ref: Reference | str, *, credentials: Any = None,
             platform: str | None = None, progress: ProgressCallback | None = None) -> str:
        """Similar to `docker pull [--platform P]`. Returns the manifest digest the registry
        served. ``platform``: the engine's own option (normalised by the caller)."""
        ref = parse_reference(ref)
        with _engine_errors("pull", ref, self.base_url):
            stream = self.api.pull(ref.name, tag=ref.reference, stream=True, decode=True,
                                   auth_config=self._auth(ref, credentials), platform=platform)
            outcome = _consume(stream, action="pull", ref=ref, progress=progress)
        for status in outcome.statuses:
            if status.startswith("Digest: "):
                return status.split(" ", 1)[1].strip()
        return ref.digest or self._repo_digest(ref)

    def push(self, ref: Reference | str, *, credentials: Any = None,
             progress: ProgressCallback | None = None,
             cancel: threading.Event | None = None) -> str:
        """Similar to `docker push`. Returns the digest of the pushed manifest. Setting
        ``cancel`` stops it within moments (``Cancelled``)."""
        ref = tagged_reference(ref, "push")
        with _cancellable("push", ref, cancel), _engine_errors("push", ref, self.base_url):
            stream = self.api.push(ref.name, tag=ref.tag, stream=True, decode=True,
                                   auth_config=self._auth(ref, credentials))
            outcome = _consume(stream, action="push", ref=ref, progress=progress)
        for aux in outcome.aux:
            if aux.get("Digest"):
                return str(aux["Digest"])
        raise EngineError(f"push {ref} to registry {ref.registry} ended without a digest",
                          registry=ref.registry, reference=str(ref))

    def tag(self, source: Reference | str, target: Reference | str) -> None:
        """Similar to `docker tag SOURCE TARGET`."""
        source, target = parse_reference(source), tagged_reference(target, "tag")
        with _engine_errors("tag", source, self.base_url):
            if not self.api.tag(_local_name(source), target.name, tag=target.tag):
                raise EngineError(f"the engine refused to tag {source} as {target}",
                                  reference=str(source))

    def build(self, context_dir: str | os.PathLike[str], ref: Reference | str, *,
              dockerfile: str | None = None, build_args: Mapping[str, str] | None = None,
              labels: Mapping[str, str] | None = None, platform: str | None = None,
              progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> str:
        """Similar to `docker build -t REF [--platform P] CONTEXT`. Returns the image id.
        Build output reaches ``progress`` as events with status ``"log"``. Setting ``cancel``
        stops the build within moments (``Cancelled``)."""
        ref = tagged_reference(ref, "build")
        if not os.path.isdir(context_dir):
            raise EngineError(f"build {ref} failed: the build context {context_dir} is not a "
                              "folder", reference=str(ref))
        with _cancellable("build", ref, cancel), _engine_errors("build", ref, self.base_url):
            # forcerm: a failed RUN step must not leave its container behind.
            stream = self.api.build(path=os.fspath(context_dir), tag=_local_name(ref),
                                    dockerfile=dockerfile, buildargs=dict(build_args or {}),
                                    labels=dict(labels or {}) or None, rm=True, forcerm=True,
                                    decode=True, platform=platform)
            outcome = _consume(stream, action="build", ref=ref, progress=progress)
            for aux in outcome.aux:
                if aux.get("ID"):
                    return str(aux["ID"])
            return str(self.api.inspect_image(_local_name(ref))["Id"])

    def run(self, ref: Reference | str, command: str | Sequence[str] | None = None, *,
            timeout: float = 300, network_mode: str = "none") -> tuple[int, str]:
        """Similar to `docker run --rm --network none REF [COMMAND]`: waits for the container
        and returns ``(exit_code, logs)`` (stdout and stderr interleaved). The container is
        removed afterwards, even on failure or timeout. The image must be local."""
        ref = parse_reference(ref)
        with _engine_errors("run", ref, self.base_url):
            container = self.api.create_container(
                _local_name(ref), command=command,
                host_config=self.api.create_host_config(network_mode=network_mode))
            cid = container["Id"]
            try:
                self.api.start(cid)
                try:
                    status = self.api.wait(cid, timeout=timeout)
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as e:
                    # On a unix socket the SDK reports a read timeout as a ConnectionError;
                    # any other ConnectionError means the engine went away.
                    if "timed out" not in str(e).lower():
                        raise
                    raise EngineError(f"run {ref}: the container did not finish within "
                                      f"{timeout} s and was killed", reference=str(ref)) from e
                logs = self.api.logs(cid, stdout=True, stderr=True).decode("utf-8", "replace")
                return int(status.get("StatusCode", -1)), logs
            finally:
                try:
                    self.api.remove_container(cid, force=True)
                except docker.errors.APIError:  # must not hide the error that brought us here
                    log.warning("could not remove container %s", cid[:12], exc_info=True)

    def remove(self, ref: Reference | str, force: bool = False) -> list[dict[str, str]]:
        """Similar to `docker rmi REF`. Returns the engine's ``Untagged``/``Deleted`` records."""
        ref = parse_reference(ref)
        with _engine_errors("remove", ref, self.base_url):
            return list(self.api.remove_image(_local_name(ref), force=force) or [])

    def images(self) -> list[dict[str, Any]]:
        """Similar to `docker images`: the engine's image summaries (``Id``, ``RepoTags``,
        ``RepoDigests``, ``Size``, ``Created``)."""
        with _engine_errors("list images", base_url=self.base_url):
            return list(self.api.images())

    def image(self, ref: Reference | str) -> dict[str, Any]:
        """Similar to `docker image inspect REF`."""
        ref = parse_reference(ref)
        with _engine_errors("inspect", ref, self.base_url):
            return dict(self.api.inspect_image(_local_name(ref)))

    def _repo_digest(self, ref: Reference) -> str:
        """The ``repo@sha256:...`` the engine recorded for ``ref``'s repository, if any."""
        for entry in self.image(ref).get("RepoDigests") or []:
            name, _, digest = entry.partition("@")
            if parse_reference(name).name == ref.name:
                return digest
        return ""

    def containers(self) -> list[dict[str, Any]]:
        """Similar to `docker ps -a`: every container's summary (``Id``, ``Names``,
        ``ImageID``, ``State``)."""
        with _engine_errors("list containers", base_url=self.base_url):
            return list(self.api.containers(all=True))

    def remove_image(self, name_or_id: str) -> list[dict[str, str]]:
        """Similar to `docker rmi NAME_OR_ID`, never forced: the engine refuses an image a
        container uses. For untagged images, which have no reference, only an id."""
        with _engine_errors(f"remove image {name_or_id}", base_url=self.base_url):
            return list(self.api.remove_image(name_or_id, force=False) or [])
