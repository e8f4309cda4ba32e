"""The verbs that go through the local Docker engine: pull, tag, push, build, run,
remove_local and local_images, the steps of the tutorial "Adding images to your namespace".

Each verb parses its references at the edge, calls ``engine.Engine``, and returns a
``Result`` that it also appends to the journal. ``push`` writes to a registry, so it goes
through the change engine (plan, re-check, back up what it replaces, verify, journal).
Imports ``reference``, ``engine``, ``registry``, the core's ``changes``, ``clients``,
``journal`` and ``result``, and the sibling ``protection``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...engine import Engine, tagged_reference
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ...registry import RegistryClient
from ..core import changes, journal
from ..core.arguments import check_bool, check_platform
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.result import Result, Timer
from .protection import refuse_protected

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

# A push's "after": the digest the Docker engine reports once it has pushed (see push).
PUSHED = "the digest the engine pushes"

__all__ = ["pull", "tag", "push", "build", "run", "remove_local", "local_images",
           "IMAGE_COLUMNS"]

IMAGE_COLUMNS = ["repository", "tag", "image_id", "digest", "size", "created"]


def _engine(engine: Engine | None) -> Engine:
    """The engine a verb was given, else a connection to the default one (``DOCKER_HOST``)."""
    return engine if engine is not None else Engine.connect()


def _record(result: Result, timer: Timer) -> Result:
    result.duration = timer.elapsed
    journal.record(result)
    return result


class _LayerBytes:
    """A progress callback that forwards events and remembers each layer's size, so a verb
    can report the bytes it moved. Layers that already existed carry no size: not counted."""

    def __init__(self, progress: ProgressCallback | None):
        self.progress = progress
        self.sizes: dict[str, int] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.id and event.total:
            self.sizes[event.id] = max(event.total, self.sizes.get(event.id, 0))
        emit(self.progress, event)

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def pull(ref: Reference | str, *, credentials: Any = None,
         progress: ProgressCallback | None = None, engine: Engine | None = None,
         platform: str | None = None) -> Result:
    """Similar to `docker pull [--platform P] REF`: copy an image from its registry into the
    local engine.

    ``credentials``: None uses what `docker login` stored; see ``credentials_from``.
    ``platform`` (``linux/arm64``, ``arm64``...; normalised as containerd does) picks that
    platform of a multi-arch image, through the engine's own platform option; None: the
    engine's own platform. An invalid platform is refused before the engine is asked.
    """
    ref = parse_reference(ref)
    platform = None if platform is None else check_platform("platform", platform)
    engine = _engine(engine)
    counter = _LayerBytes(progress)
    with Timer() as timer:
        digest = engine.pull(ref, credentials=credentials, platform=platform, progress=counter)
    return _record(Result("pull", source=str(ref), digest=digest or None,
                          bytes_moved=counter.total,
                          details={"platform": platform} if platform else {}), timer)


def tag(source: Reference | str, target: Reference | str, *,
        engine: Engine | None = None) -> Result:
    """Similar to `docker tag SOURCE TARGET`: give a local image another name, e.g. the
    registry and namespace it will be pushed to."""
    # Names the engine writes need a tag: checked here, before the engine is contacted.
    source, target = parse_reference(source), tagged_reference(target, "tag")
    engine = _engine(engine)
    with Timer() as timer:
        engine.tag(source, target)
    return _record(Result("tag", source=str(source), target=str(target)), timer)


def push(ref: Reference | str, *, credentials: Any = None, force: bool = False,
         progress: ProgressCallback | None = None, engine: Engine | None = None,
         cancel: threading.Event | None = None) -> Result:
    """Similar to `docker push REF`: upload a local image to the registry its name says.

    Plan first, as ``copy`` does: what the tag points at now is read before anything is
    sent. Over an existing tag, ``result.details["replaces"]`` names the image it replaces,
    that image is backed up by the change engine before the push (``restore(result)`` puts
    it back), and a protected tag (``protect``) is refused unless ``force=True``. The engine
    reads the tag again right before the push (refused if it moved), then checks the
    registry shows what was pushed, and journals the push. Setting ``cancel`` stops the
    push within moments (``Cancelled``; the tag is not moved).
    """
    ref = tagged_reference(ref, "push")
    check_bool("force", force)
    engine = _engine(engine)
    reader = _reader(ref.registry, credentials)
    head = reader.head_manifest(ref.repository, ref.tag)
    before = head.digest if head is not None else None
    if before is not None:
        refuse_protected(ref.registry, ref.repository, [ref.tag], force=force,
                         action=f"pushing over {ref} (it points at {before})")
    counter = _LayerBytes(progress)
    result = Result("push", target=str(ref),
                    details={"replaces": {ref.tag: before} if before else {}})
    # The Docker engine computes the digest while it pushes (it compresses the layers), so
    # the change's "after" is known only once it is done: ``write`` returns it.
    plan = Plan(action="push", registry=ref.registry, target=str(ref), force=force, changes=[
        Change(ref.repository, ref.tag, before=before, after=PUSHED, reason="the local image")])

    def write(change: Change) -> str:
        result.digest = engine.push(ref, credentials=credentials, progress=counter,
                                    **({"cancel": cancel} if cancel is not None else {}))
        return result.digest

    changes.apply(plan, write=write, result=result, client=reader)
    result.bytes_moved = counter.total
    return result


def _reader(registry: str, credentials: Any) -> RegistryClient:
    """The client that reads the target: the shared one, or, when the push was given its own
    credentials, one with those (kept for this push only, never stored)."""
    if credentials is None:
        reader = client_for(registry)
        reader.refresh_credentials()  # a push right after `docker login` uses that login
        return reader
    return RegistryClient(registry, credentials=credentials)


def build(context_dir: str | os.PathLike[str], ref: Reference | str,
          dockerfile: str | None = None, build_args: Mapping[str, str] | None = None,
          labels: Mapping[str, str] | None = None, *, progress: ProgressCallback | None = None,
          engine: Engine | None = None, platform: str | None = None,
          cancel: threading.Event | None = None) -> Result:
    """Similar to `docker build -t REF [--platform P] CONTEXT_DIR`: build an image from a
    Dockerfile.

    Build output reaches ``progress`` as events with status ``"log"``. The image id is in
    ``details["image_id"]`` (``digest`` is for registry manifests; a build makes none).
    ``platform`` (normalised as containerd does: ``amd64`` is ``linux/amd64``) is the
    engine's own platform option; None builds for the engine's platform. An invalid
    platform is refused before the engine is asked. Setting ``cancel`` stops the build
    within moments (``Cancelled``).
    """
    ref = tagged_reference(ref, "build")
    platform = None if platform is None else check_platform("platform", platform)
    engine = _engine(engine)
    with Timer() as timer:
        image_id = engine.build(context_dir, ref, dockerfile=dockerfile, build_args=build_args,
                                labels=labels, platform=platform, progress=progress,
                                **({"cancel": cancel} if cancel is not None else {}))
    details = {"image_id": image_id, "context_dir": os.fspath(context_dir),
               "platform": platform,
               "dockerfile": dockerfile, "labels": dict(labels or {}),
               # build-arg names only: values may be secrets, and the journal keeps everything
               "build_args": sorted(build_args or {})}
    return _record(Result("build", target=str(ref), details=details), timer)


def run(ref: Reference | str, command: str | Sequence[str] | None = None, *,
        timeout: float = 300, engine: Engine | None = None) -> Result:
    """Similar to `docker run --rm --network none REF [COMMAND]`: test an image locally.

    ``details`` holds ``exit_code`` and ``logs``; a non-zero exit is reported, not raised.
    """
    ref = parse_reference(ref)
    engine = _engine(engine)
    with Timer() as timer:
        exit_code, logs = engine.run(ref, command, timeout=timeout)
    shown = command if command is None or isinstance(command, str) else list(command)
    return _record(Result("run", source=str(ref), changed=False,
                          details={"command": shown, "exit_code": exit_code, "logs": logs}),
                   timer)


def remove_local(ref: Reference | str, *, force: bool = False,
                 engine: Engine | None = None) -> Result:
    """Similar to `docker rmi REF`: remove the local name, and the image once no name is left.
    The registry's copy is untouched."""
    check_bool("force", force)
    ref = parse_reference(ref)
    engine = _engine(engine)
    with Timer() as timer:
        records = engine.remove(ref, force=force)
    details = {"untagged": [r["Untagged"] for r in records if "Untagged" in r],
               "deleted": [r["Deleted"] for r in records if "Deleted" in r]}
    return _record(Result("remove_local", source=str(ref), details=details), timer)


def local_images(*, engine: Engine | None = None) -> pd.DataFrame:
    """Similar to `docker images`: one row per local repository and tag, with the columns
    ``IMAGE_COLUMNS``. Untagged (dangling) images are left out."""
    return images_frame(_engine(engine).images())


def images_frame(summaries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ``local_images`` table from the engine's image summaries (a plain function, so
    it is testable without an engine)."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    rows = []
    for image in summaries:
        digests = [d for d in image.get("RepoDigests") or [] if "@" in d]
        for repo_tag in image.get("RepoTags") or []:
            if repo_tag == "<none>:<none>":
                continue
            # The tag follows the last colon after the last slash (a port has a slash after it).
            repository, _, tag = repo_tag.rpartition(":")
            if "/" in tag or not repository:
                repository, tag = repo_tag, ""
            digest = next((d.split("@", 1)[1] for d in digests
                           if d.split("@", 1)[0] == repository), None)
            rows.append({"repository": repository, "tag": tag, "image_id": image.get("Id"),
                         "digest": digest, "size": int(image.get("Size") or 0),
                         "created": pd.Timestamp(int(image.get("Created") or 0), unit="s",
                                                 tz="UTC")})
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS)
