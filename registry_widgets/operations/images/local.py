"""The verbs that go through the local Docker engine: pull, tag, push, build, run,
remove_local and local_images, the steps of the tutorial "Adding images to your namespace";
and the local images as Docker Desktop shows them (``local_inventory``: size, created, the
containers that use each, dangling), removed or pruned plan first (``plan_remove_images``,
``plan_prune_images``, then ``apply_local_plan``).

Local removals are not registry writes, so they do not go through the change engine; they
follow its rules all the same: the plan is data, the apply re-reads the engine and skips what
changed since the plan, an image a container uses (running or stopped) is never removed, and
the result is journaled.

Each verb parses its references at the edge, calls ``engine.Engine``, and returns a
``Result`` that it also appends to the journal. ``push`` writes to a registry, so it goes
through the change engine (plan, re-check, back up what it replaces, verify, journal).
Imports ``reference``, ``engine``, ``registry``, the core's ``changes``, ``clients``,
``journal`` and ``result``, and the sibling ``protection``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...engine import Engine, tagged_reference
from ...errors import RegistryWidgetsError
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
           "IMAGE_COLUMNS", "local_inventory", "local_images_table", "plan_remove_images",
           "plan_prune_images", "apply_local_plan", "LocalImage", "LocalPlan"]

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


# -- local images as Docker Desktop shows them, and their removal (plan first) --------------

LOCAL_COLUMNS = ["repository", "tag", "image_id", "size", "created", "containers", "dangling"]


@dataclass(frozen=True)
class LocalImage:
    """One image of the engine: its names (``repository:tag``; none when dangling), size,
    creation time (seconds since the epoch) and the containers made from it."""

    image_id: str
    names: tuple[str, ...]
    size: int
    created: int
    containers: tuple[str, ...] = ()  # "name (state)"

    @property
    def dangling(self) -> bool:
        return not self.names

    @property
    def in_use(self) -> bool:
        return bool(self.containers)


def local_inventory(*, engine: Engine | None = None) -> list[LocalImage]:
    """Every image of the engine, newest first, with the containers (running or stopped)
    made from it. Similar to `docker images -a` beside `docker ps -a`."""
    engine = _engine(engine)
    users: dict[str, list[str]] = {}
    for container in engine.containers():
        name = (container.get("Names") or [""])[0].lstrip("/") or str(container.get("Id"))[:12]
        users.setdefault(str(container.get("ImageID") or ""), []).append(
            f"{name} ({container.get('State', '')})")
    found = []
    for image in engine.images():
        names = tuple(sorted(n for n in image.get("RepoTags") or [] if n != "<none>:<none>"))
        image_id = str(image.get("Id") or "")
        found.append(LocalImage(image_id, names, int(image.get("Size") or 0),
                                int(image.get("Created") or 0),
                                tuple(sorted(users.get(image_id, [])))))
    return sorted(found, key=lambda i: (-i.created, i.names, i.image_id))


def local_images_table(inventory: Sequence[LocalImage]) -> pd.DataFrame:
    """One row per name of each image (``LOCAL_COLUMNS``); a dangling image is one row
    whose repository and tag read ``<none>``."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    rows = []
    for image in inventory:
        for name in image.names or ("<none>:<none>",):
            repository, _, tag = name.rpartition(":")
            if "/" in tag or not repository:
                repository, tag = name, ""
            rows.append({"repository": repository, "tag": tag, "image_id": image.image_id,
                         "size": image.size,
                         "created": pd.Timestamp(image.created, unit="s", tz="UTC"),
                         "containers": list(image.containers), "dangling": image.dangling})
    return pd.DataFrame(rows, columns=LOCAL_COLUMNS)


@dataclass(frozen=True)
class LocalRemoval:
    """One image the plan removes: the ``names`` it untags (all of them: the image goes),
    or, for a dangling image, its id alone."""

    image_id: str
    names: tuple[str, ...]
    size: int
    goes: bool  # does the image itself go (no name is left), or only these names?


@dataclass
class LocalPlan:
    """What a local removal or prune would do: ``removals``, and ``kept`` (image, why) for
    each image it may not touch (a container uses it). Nothing is removed until
    ``apply_local_plan``."""

    action: str  # "remove local images" or "prune local images"
    removals: list[LocalRemoval] = field(default_factory=list)
    kept: list[tuple[LocalImage, str]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        """Bytes of the images that go (at most: layers shared with kept images stay)."""
        return sum(r.size for r in self.removals if r.goes)

    def text(self) -> str:
        """The plan for a person: each image that goes or loses names, each one kept."""
        lines = [f"{self.action}: {len(self.removals)} image(s), up to "
                 f"{_human(self.freed)} freed. Nothing has been removed yet."]
        for r in self.removals:
            what = ", ".join(r.names) or "untagged (dangling)"
            verb = "remove" if r.goes else "untag"
            lines.append(f"  {verb} {r.image_id[:19]}  {what}  {_human(r.size)}")
        for image, why in self.kept:
            lines.append(f"  keep   {image.image_id[:19]}  "
                         f"{', '.join(image.names) or 'untagged (dangling)'}: {why}")
        return "\n".join(lines)


def _human(size: int) -> str:
    n = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{size} B"


def _used_by(image: LocalImage) -> str:
    return f"used by container {', '.join(image.containers)}; remove the container first"


def plan_remove_images(names: Sequence[str], *, engine: Engine | None = None) -> LocalPlan:
    """What removing these local images does: each ``repository:tag`` (or image id) loses
    that name, and the image goes once no name is left. An image a container uses is kept
    (listed with the container). Similar to `docker rmi`, planned first."""
    if isinstance(names, str):
        names = [names]
    inventory = local_inventory(engine=engine)
    by_name = {name: image for image in inventory for name in image.names}
    by_id = {image.image_id: image for image in inventory}
    chosen: dict[str, list[str]] = {}
    plan = LocalPlan("remove local images")
    for name in names:
        image = by_name.get(name) or by_id.get(name) or by_id.get(f"sha256:{name}")
        if image is None:
            raise ValueError(f"no local image {name!r}: refresh the list of local images")
        wanted = chosen.setdefault(image.image_id, [])
        wanted += [n for n in ((name,) if name in image.names else image.names)
                   if n not in wanted]
    for image_id, wanted in chosen.items():
        image = by_id[image_id]
        if image.in_use:
            plan.kept.append((image, _used_by(image)))
            continue
        plan.removals.append(LocalRemoval(image_id, tuple(wanted), image.size,
                                          goes=set(wanted) >= set(image.names)))
    return plan


def plan_prune_images(*, unused: bool = False, engine: Engine | None = None) -> LocalPlan:
    """What pruning removes: every dangling image no container uses; with ``unused``, also
    every tagged image no container uses (`docker image prune`, with ``-a``), planned first.
    Images a container uses are listed as kept."""
    check_bool("unused", unused)
    plan = LocalPlan("prune local images" + (" (dangling and unused)" if unused else
                                             " (dangling)"))
    for image in local_inventory(engine=engine):
        if not (image.dangling or unused):
            continue
        if image.in_use:
            plan.kept.append((image, _used_by(image)))
        else:
            plan.removals.append(LocalRemoval(image.image_id, image.names, image.size,
                                              goes=True))
    return plan


def apply_local_plan(plan: LocalPlan, *, engine: Engine | None = None) -> Result:
    """Remove exactly what ``plan`` shows. The engine is read again first: an image that a
    container now uses, that is gone, or whose names changed since the plan is skipped (and
    said so in ``details["skipped"]``); nothing is forced. Journaled."""
    if not isinstance(plan, LocalPlan):
        raise TypeError("apply_local_plan takes the plan of plan_remove_images or "
                        "plan_prune_images")
    engine = _engine(engine)
    now = {image.image_id: image for image in local_inventory(engine=engine)}
    removed: list[str] = []
    skipped: list[str] = []
    freed = 0
    with Timer() as timer:
        for r in plan.removals:
            label = f"{r.image_id[:19]} ({', '.join(r.names) or 'dangling'})"
            image = now.get(r.image_id)
            if image is None:
                skipped.append(f"{label}: already gone")
                continue
            if image.in_use:
                skipped.append(f"{label}: {_used_by(image)} (since the plan)")
                continue
            if (r.goes and set(image.names) != set(r.names)) or \
                    not set(r.names) <= set(image.names):
                skipped.append(f"{label}: its names changed since the plan (now "
                               f"{', '.join(image.names) or 'none'}); plan again")
                continue
            try:
                for name in r.names:
                    engine.remove_image(name)
                if not r.names:
                    engine.remove_image(r.image_id)
            except RegistryWidgetsError as e:  # e.g. an image that other images build on
                skipped.append(f"{label}: {e}")
                continue
            removed.append(label)
            freed += r.size if r.goes else 0
    result = Result(plan.action.split(" (")[0].replace(" ", "_"), changed=bool(removed),
                    details={"removed": removed, "skipped": skipped, "freed": freed,
                             "kept": [f"{i.image_id[:19]}: {why}" for i, why in plan.kept]})
    return _record(result, timer)
