"""``diff``: what changed between two images: config, layers and files.

Similar to ``container-diff diff --type=file`` or ``dive``'s layer view, without an engine.
The layers both images start with (same digests, same order) are not streamed: only the
layers after them are, each once. Files are then compared as those layers leave them, on
top of the shared ones; ``exact=True`` streams the shared layers too, to tell a file a
side's own layers rewrite ("changed") from one they add ("added").

Imports ``errors``, ``progress``, ``reference``, the core's ``arguments`` and ``clients``,
and ``tree`` and ``files``.
"""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...progress import ProgressCallback
from ...reference import Reference, parse_reference
from ..core.arguments import check_bool, check_optional_str
from ..core.clients import client_for
from .tree import (LAYER_WORKERS, Entry, Overlay, check_layers, merge, pick_image,
                   read_config)

CONFIG_FIELDS = ("Env", "Entrypoint", "Cmd", "Labels", "User", "ExposedPorts", "WorkingDir",
                 "Volumes", "StopSignal", "Healthcheck")
FILE_COLUMNS = ["path", "change", "type_a", "type_b", "size_a", "size_b", "mode_a", "mode_b",
                "digest_a", "digest_b", "link_a", "link_b", "layer_b"]


@dataclass
class ImageDiff:
    """What ``diff`` found. ``config``, ``layers`` and ``files`` are DataFrames;
    ``shared_layers`` counts the layers both start with (not streamed unless exact)."""

    a: str
    b: str
    digest_a: str
    digest_b: str
    config: Any
    layers: Any
    files: Any
    shared_layers: int
    exact: bool
    notes: list[str] = field(default_factory=list)

    def summary(self, *, notes: bool = True) -> str:
        """Two or three lines for a person (``notes``: with what the diff did not read)."""
        counts = self.files["change"].value_counts() if len(self.files) else {}
        files = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("added", "removed", "changed"))
        layers = self.layers["change"].value_counts() if len(self.layers) else {}
        lines = [f"{self.a} -> {self.b}",
                 f"config: {len(self.config)} setting(s) differ; layers: "
                 f"{layers.get('added', 0)} added, {layers.get('removed', 0)} removed, "
                 f"{self.shared_layers} shared; files: {files}"]
        return "\n".join(lines + (self.notes if notes else []))

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, *, notes: bool = True) -> str:
        """The summary, then the config, layers and files tables that have rows."""
        parts = [f"<pre>{html.escape(self.summary(notes=notes))}</pre>"]
        for title, frame in (("Config", self.config), ("Layers", self.layers),
                             ("Files", self.files)):
            if len(frame):
                parts.append(f"<h4>{title}</h4>" + frame.to_html(index=False, max_rows=200))
        return "".join(parts)


def _shared_prefix(a: list, b: list) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n].digest == b[n].digest:
        n += 1
    return n


def _config_rows(config_a: dict, config_b: dict) -> list[dict[str, str]]:
    run_a, run_b = config_a.get("config") or {}, config_b.get("config") or {}
    rows = []
    for name in CONFIG_FIELDS:
        before, after = run_a.get(name), run_b.get(name)
        if name in ("Env", "Labels", "ExposedPorts", "Volumes"):
            rows += _keyed_rows(name, before, after)
        elif before != after:
            rows.append({"setting": name, "key": "", "a": _text(before), "b": _text(after)})
    for name in ("os", "architecture", "variant"):
        if config_a.get(name) != config_b.get(name):
            rows.append({"setting": name, "key": "", "a": _text(config_a.get(name)),
                         "b": _text(config_b.get(name))})
    return rows


def _keyed_rows(name: str, before: Any, after: Any) -> list[dict[str, str]]:
    """Env as NAME=value lines, labels, ports and volumes: one row per key that differs."""
    def as_map(value: Any) -> dict[str, str]:
        if not value:
            return {}
        if isinstance(value, list):  # Env
            return dict((item.split("=", 1) + [""])[:2] for item in value)
        # ports and volumes map to {}: being there is the value
        return {str(k): _text(v) or "present" for k, v in value.items()}

    old, new = as_map(before), as_map(after)
    return [{"setting": name, "key": key, "a": old.get(key, ""), "b": new.get(key, "")}
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if not isinstance(value, dict) else ", ".join(
        f"{k}={v}" if v else str(k) for k, v in value.items())


def _file_rows(side_a: Overlay, side_b: Overlay, exact: bool) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(set(side_a.entries) | set(side_b.entries) | side_a.hidden
                       | side_b.hidden):
        old, new = side_a.entries.get(path), side_b.entries.get(path)
        if old is None and new is None:
            if exact:  # every layer was read: absent on both sides
                continue
            # deleted from the shared layers by one side only: gone from that side
            if path in side_b.hidden and path not in side_a.hidden:
                rows.append(_row(path, "removed", None, None))
            elif path in side_a.hidden and path not in side_b.hidden:
                rows.append(_row(path, "added", None, None))
            continue
        if old is not None and new is not None:
            if _differs(old, new):
                rows.append(_row(path, "changed", old, new))
            continue
        rows.append(_row(path, "added" if new is not None else "removed", old, new))
    return rows


def _differs(old: Entry, new: Entry) -> bool:
    if (old.type, old.mode, old.link) != (new.type, new.mode, new.link):
        return True
    if old.type != "file":
        return False
    if old.size != new.size:
        return True
    return bool(old.digest and new.digest and old.digest != new.digest)


def _row(path: str, change: str, old: Entry | None, new: Entry | None) -> dict[str, Any]:
    def get(entry: Entry | None, name: str) -> Any:
        if entry is None:
            return "" if name != "size" else None
        value = getattr(entry, name)
        return f"{value:04o}" if name == "mode" else value

    row: dict[str, Any] = {"path": path, "change": change}
    for name in ("type", "size", "mode", "digest", "link"):
        row[f"{name}_a"], row[f"{name}_b"] = get(old, name), get(new, name)
    row["layer_b"] = new.layer + 1 if new is not None else None
    return row


def diff(a: str | Reference, b: str | Reference, *, platform: str | None = None,
         exact: bool = False, progress: ProgressCallback | None = None) -> ImageDiff:
    """What changed from image ``a`` to image ``b``: the config (env, entrypoint, cmd,
    labels, user, ports, ...), the layers added and removed, and the files added, removed
    and changed (type, size, mode, link target, and content digest where both sides' layers
    carry the file).

    Similar to ``container-diff diff a b --type=file``. The layers both images start with
    are not streamed. A file one side's own layers write and the other's do not shows as
    added (or removed) even when a shared layer also holds it; ``exact=True`` reads the
    shared layers too and reports such a file as changed. Returns an ``ImageDiff``
    (``.summary()``, ``.config``, ``.layers``, ``.files``)."""
    ref_a, ref_b = parse_reference(a), parse_reference(b)
    platform = check_optional_str("platform", platform)
    check_bool("exact", exact)
    client_a, client_b = client_for(ref_a.registry), client_for(ref_b.registry)
    top_a, image_a = pick_image(client_a, ref_a, platform)
    top_b, image_b = pick_image(client_b, ref_b, platform)
    check_layers(ref_a, image_a)
    check_layers(ref_b, image_b)
    config_a = read_config(client_a, ref_a, image_a)
    config_b = read_config(client_b, ref_b, image_b)
    layers_a, layers_b = image_a.layers, image_b.layers
    shared = _shared_prefix(layers_a, layers_b)
    start = 0 if exact else shared
    # both sides at once: their own layers are independent downloads
    with ThreadPoolExecutor(2, "rw-diff") as pool:
        reading_a = pool.submit(merge, client_a, ref_a, layers_a, start=start, hash_files=True,
                                progress=progress, action="diff", workers=LAYER_WORKERS // 2)
        reading_b = pool.submit(merge, client_b, ref_b, layers_b, start=start, hash_files=True,
                                progress=progress, action="diff", workers=LAYER_WORKERS // 2)
        side_a, side_b = reading_a.result(), reading_b.result()
    import pandas as pd

    digests_a = {layer.digest for layer in layers_a}
    digests_b = {layer.digest for layer in layers_b}
    layer_rows = [{"change": "removed", "position_a": i + 1, "position_b": None,
                   "digest": layer.digest, "size": layer.size}
                  for i, layer in enumerate(layers_a) if layer.digest not in digests_b]
    layer_rows += [{"change": "added", "position_a": None, "position_b": i + 1,
                    "digest": layer.digest, "size": layer.size}
                   for i, layer in enumerate(layers_b) if layer.digest not in digests_a]
    notes = []
    if not exact and shared:
        notes.append(f"the {shared} layer(s) both images start with were not read; a file "
                     "their own layers write over one of those shows as added or removed "
                     "(exact=True tells)")
    return ImageDiff(
        a=str(ref_a), b=str(ref_b), digest_a=top_a.digest, digest_b=top_b.digest,
        config=pd.DataFrame(_config_rows(config_a, config_b), columns=["setting", "key", "a",
                                                                       "b"]),
        layers=pd.DataFrame(layer_rows, columns=["change", "position_a", "position_b",
                                                 "digest", "size"]),
        files=pd.DataFrame(_file_rows(side_a, side_b, exact), columns=FILE_COLUMNS),
        shared_layers=shared, exact=exact, notes=notes)
