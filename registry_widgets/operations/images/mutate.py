"""``mutate``: change an image's labels, environment, entrypoint, command or user without a
rebuild, like ``crane mutate``.

Only a new config blob and a new manifest are written: the layers are the source's, skipped
when the target repository has them, mounted from the source repository on the same
registry, streamed across otherwise (``copy``'s blob copier). The manifest PUT goes
through the change engine: a replaced tag is backed up and ``restore(result)`` puts it back.

Imports ``errors``, ``manifest``, ``progress``, ``reference``, the core's ``arguments``,
``changes``, ``clients``, ``result`` and ``workers``, and the siblings ``copy`` and
``protection``.
"""

from __future__ import annotations

import json
import shlex
import threading
from typing import Any, Mapping

from ...errors import InvalidArgument, NotFound
from ...manifest import Manifest, digest_of
from ...progress import ProgressCallback
from ...reference import Reference, parse_reference
from ..core import changes
from ..core.arguments import check_bool, check_optional_str
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.result import Result
from ..core.workers import Stop
from .copy import DEFAULT_WORKERS, _copy_blobs
from .protection import refuse_protected

_UNSET: Any = object()


def _mapping(name: str, value: Any, example: str) -> dict[str, str | None]:
    if isinstance(value, Mapping) and all(isinstance(k, str) and k and
                                          (v is None or isinstance(v, str))
                                          for k, v in value.items()):
        return dict(value)
    raise InvalidArgument(f"{name} must map names to text (None removes one), such as "
                          f"{example}, not {value!r:.100}: nothing was changed")


def _command(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise InvalidArgument(f"{name} {value!r} does not split into words ({e}): nothing "
                                  "was changed. Give a list such as ['python', 'app.py']") from e
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidArgument(f"{name} must be a list of words such as ['python', 'app.py'] (or one "
                          f"string, split as a shell would), not {value!r:.100}: nothing was "
                          "changed")


def _edit(config: dict[str, Any], *, labels: Any, env: Any, entrypoint: Any, cmd: Any,
          user: Any) -> list[str]:
    """Apply the edits to the config JSON in place; what changed, in words."""
    run = config.setdefault("config", {})
    said = []
    if labels is not _UNSET:
        current = dict(run.get("Labels") or {})
        for key, value in _mapping("labels", labels, "{'version': '1.1'}").items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        run["Labels"] = current
        said.append("labels")
    if env is not _UNSET:
        if isinstance(env, (list, tuple)) and all(isinstance(e, str) and "=" in e for e in env):
            env = dict(e.split("=", 1) for e in env)
        edits = _mapping("env", env, "{'LOG_LEVEL': 'debug'}")
        pairs = [item.split("=", 1) + [""] for item in run.get("Env") or []]
        current = {pair[0]: pair[1] for pair in pairs}
        for key, value in edits.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        run["Env"] = [f"{k}={v}" for k, v in current.items()]
        said.append("env")
    if entrypoint is not _UNSET:
        run["Entrypoint"] = _command("entrypoint", entrypoint) if entrypoint is not None else None
        said.append("entrypoint")
    if cmd is not _UNSET:
        run["Cmd"] = _command("cmd", cmd) if cmd is not None else None
        said.append("cmd")
    if user is not _UNSET:
        run["User"] = check_optional_str("user", user) or ""
        said.append("user")
    return said


def mutate(source: str | Reference, target: str | Reference, *, labels: Any = _UNSET,
           env: Any = _UNSET, entrypoint: Any = _UNSET, cmd: Any = _UNSET, user: Any = _UNSET,
           platform: str | None = None, force: bool = False,
           progress: ProgressCallback | None = None,
           cancel: threading.Event | None = None) -> Result:
    """Write ``target`` as ``source`` with a changed config, without a rebuild: like ``crane
    mutate SOURCE --label k=v --env K=V --entrypoint ... --cmd ... --user ... -t TARGET``.

    ``labels`` and ``env``: ``{name: value}`` merged into what is there (a value of None
    removes that name; ``env`` may also be ``["K=V", ...]``). ``entrypoint`` and ``cmd``: a
    list of words (or one string, split as a shell would; None clears). ``user``: a name or
    ``uid[:gid]``. Only the new config and manifest are uploaded; layers are mounted or
    copied only when the target repository lacks them. For a multi-arch index, name the
    ``platform`` to change ("linux/amd64"); the target then holds that one platform.

    Over an existing tag, the image there is backed up first (``restore(result)`` puts it
    back); a protected tag is refused unless ``force=True``. ``result.details["changed"]``
    names the settings changed."""
    src, dst = parse_reference(source), parse_reference(target)
    if not dst.tag or dst.digest:
        raise InvalidArgument(f"mutate writes a new image, so its target needs a tag, such as "
                              f"{dst.name}:patched, not {dst}: nothing was changed",
                              reference=str(dst))
    platform = check_optional_str("platform", platform)
    check_bool("force", force)
    src_client, dst_client = client_for(src.registry), client_for(dst.registry)
    image = src_client.get_manifest(src.repository, src.reference)
    if image.is_index:
        children = {c.platform_name: c for c in image.children}
        if platform not in children:
            raise InvalidArgument(f"{src} is a multi-arch index ({', '.join(children)}): name "
                                  "the platform to change, such as platform='linux/amd64'. "
                                  "Nothing was changed", reference=str(src))
        image = src_client.get_manifest(src.repository, children[platform].digest)
    if image.config is None:
        raise NotFound(f"{src} has no config to change", registry=src.registry,
                       reference=str(src))
    config = json.loads(src_client.get_blob(src.repository, image.config.digest))
    said = _edit(config, labels=labels, env=env, entrypoint=entrypoint, cmd=cmd, user=user)
    if not said:
        raise InvalidArgument("mutate needs something to change: labels, env, entrypoint, cmd "
                              "or user. Nothing was changed", reference=str(src))
    new_config = json.dumps(config, separators=(",", ":")).encode()
    doc = json.loads(image.data)
    doc["config"] = {**doc["config"], "digest": digest_of(new_config), "size": len(new_config)}
    manifest = Manifest(json.dumps(doc, separators=(",", ":")).encode(), image.media_type)

    head = dst_client.head_manifest(dst.repository, dst.tag)
    before = head.digest if head is not None else None
    if before is not None and before != manifest.digest:
        refuse_protected(dst.registry, dst.repository, [dst.tag], force=force,
                         action=f"mutating into {dst} (it points at {before})")
    result = Result(action="mutate", source=str(src), target=str(dst), digest=manifest.digest,
                    details={"changed": said, "config": digest_of(new_config),
                             "replaces": {dst.tag: before} if before and
                             before != manifest.digest else {}})
    stop = Stop(cancel, f"mutate of {src} into {dst}")
    counts = _copy_blobs(image.layers, src_client, src, dst_client, dst, progress,
                         DEFAULT_WORKERS, stop, [])
    if dst_client.head_blob(dst.repository, digest_of(new_config)) is None:
        dst_client.upload_blob(dst.repository, digest_of(new_config), new_config,
                               len(new_config))
    result.bytes_moved = counts.pop("bytes") + len(new_config)
    result.details["layers"] = counts
    if before == manifest.digest:
        result.changed = False
        return result
    plan = Plan(action="mutate", registry=dst.registry, target=str(dst), force=force,
                changes=[Change(dst.repository, dst.tag, before=before, after=manifest.digest,
                                manifest=manifest, reason="the changed image")])
    return changes.apply(plan, cancel=stop, result=result, progress=progress)
