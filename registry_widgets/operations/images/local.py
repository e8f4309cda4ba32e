"""The verbs that go through the local Docker engine: pull, tag, push, build, run,
remove_local and local_images, the steps of the tutorial "Adding images to your namespace".

Each verb parses its references at the edge, calls ``engine.Engine``, and returns a
``Result`` that it also appends to the journal. Layer 3: imports ``reference``, ``engine``
and the bottom modules.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import pandas as pd

from ...engine import Engine, tagged_reference
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ..core import journal
from ..core.arguments import check_bool
from ..core.result import Result, Timer

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
         progress: ProgressCallback | None = None, engine: Engine | None = None) -> Result:
    """Similar to `docker pull REF`: copy an image from its registry into the local engine.

    ``credentials``: None uses what `docker login` stored; see ``credentials_from``.
    """
    ref = parse_reference(ref)
    engine = _engine(engine)
    counter = _LayerBytes(progress)
    with Timer() as timer:
        digest = engine.pull(ref, credentials=credentials, progress=counter)
    return _record(Result("pull", source=str(ref), digest=digest or None,
                          bytes_moved=counter.total), timer)


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


def push(ref: Reference | str, *, credentials: Any = None,
         progress: ProgressCallback | None = None, engine: Engine | None = None) -> Result:
    """Similar to `docker push REF`: upload a local image to the registry its name says."""
    ref = tagged_reference(ref, "push")
    engine = _engine(engine)
    counter = _LayerBytes(progress)
    with Timer() as timer:
        digest = engine.push(ref, credentials=credentials, progress=counter)
    return _record(Result("push", target=str(ref), digest=digest, bytes_moved=counter.total),
                   timer)


def build(context_dir: str | os.PathLike[str], ref: Reference | str,
          dockerfile: str | None = None, build_args: Mapping[str, str] | None = None,
          labels: Mapping[str, str] | None = None, *, progress: ProgressCallback | None = None,
          engine: Engine | None = None) -> Result:
    """Similar to `docker build -t REF CONTEXT_DIR`: build an image from a Dockerfile.

    Build output reaches ``progress`` as events with status ``"log"``. The image id is in
    ``details["image_id"]`` (``digest`` is for registry manifests; a build makes none).
    """
    ref = tagged_reference(ref, "build")
    engine = _engine(engine)
    with Timer() as timer:
        image_id = engine.build(context_dir, ref, dockerfile=dockerfile, build_args=build_args,
                                labels=labels, progress=progress)
    details = {"image_id": image_id, "context_dir": os.fspath(context_dir),
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
