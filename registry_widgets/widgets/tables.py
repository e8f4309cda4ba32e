"""The tables the widgets show, as plain functions over DataFrames (no widgets, no kernel).

``images()`` and ``namespaces()`` return rich frames (lists, dicts, timestamps, bytes); what a
browser receives must stay small, because itables sends every row (``maxBytes=0``) and a
10,000-row table must still draw in a couple of seconds. So display frames hold short
strings: human sizes, short digests, platforms joined. A hidden integer ``bytes`` column
keeps the size column sortable by value (``SIZE_SORT`` column definitions), and a hidden
``tag order`` keeps tags in version order (1.9 before 1.10: ``tag_key``).

Display rows keep the positions of the frame they came from, so a selection in the browser
(``selected_rows``, positions) maps straight back to the full rows: ``rows_at``.

Imports only pandas, packaging, the standard library and ``reference``.
"""

from __future__ import annotations

import math
import json
import re
from typing import Any, Iterable, Sequence

import pandas as pd
from packaging.version import InvalidVersion, Version

from ..reference import Reference, parse_reference

__all__ = [
    "human_size", "short_digest", "format_time", "join_platforms", "format_labels",
    "namespace_display", "image_display", "filter_frame", "rows_at", "selected_references",
    "digest_reference", "pull_command", "pull_commands", "export_json", "inspect_text", "copy_target", "push_target",
    "build_target", "plan_text", "namespace_plan_text", "export_frame", "size_column_defs",
    "table_options", "counted", "tag_key", "tag_order", "sort_tags",
]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
LABELS_MAX = 80  # characters of labels shown in a row; Inspect shows them all


def human_size(size: Any) -> str:
    """Bytes as Docker prints them (decimal units): ``0 B``, ``2.0 kB``, ``12.3 MB``.
    Missing values give ``""``."""
    if size is None or (isinstance(size, float) and math.isnan(size)):
        return ""
    value = float(size)
    unit = 0
    while abs(value) >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def counted(n: int, noun: str) -> str:
    """``1 tag``, ``3 tags``: a count with its noun, never the code-like ``tag(s)``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def short_digest(digest: Any, length: int = 12) -> str:
    """``sha256:0123456789ab`` for a full digest (the algorithm stays: a short hex alone
    reads like an image id)."""
    if not isinstance(digest, str) or not digest:
        return ""
    algorithm, colon, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:length]}" if colon else digest[:length]


def format_time(value: Any) -> str:
    """``2024-02-01 12:00`` (UTC) for a timestamp or ISO string; ``""`` when unknown."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    when = pd.to_datetime(value, utc=True, errors="coerce")
    return "" if pd.isna(when) else when.strftime("%Y-%m-%d %H:%M")


def join_platforms(platforms: Any) -> str:
    """``linux/amd64, linux/arm64/v8``; unknown platforms (None) are left out."""
    if isinstance(platforms, str):
        return platforms
    if platforms is None or (isinstance(platforms, float) and math.isnan(platforms)):
        return ""
    return ", ".join(str(p) for p in platforms if p)


def format_labels(labels: Any, limit: int | None = LABELS_MAX) -> str:
    """``key=value; key=value``, cut at ``limit`` characters with an ellipsis."""
    if not isinstance(labels, dict) or not labels:
        return ""
    text = "; ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def size_column_defs(columns: Sequence[str]) -> list[dict[str, Any]]:
    """DataTables column definitions: hide ``bytes`` and sort ``size`` by it; hide
    ``tag order`` and sort ``tag`` by it (1.9 before 1.10)."""
    columns = list(columns)
    defs = []
    for shown, hidden in (("size", "bytes"), ("tag", "tag order")):
        if shown in columns and hidden in columns:
            defs += [{"targets": [columns.index(hidden)], "visible": False,
                      "searchable": False},
                     {"targets": [columns.index(shown)], "orderData": [columns.index(hidden)]}]
    return defs


def tag_key(tag: Any) -> tuple:
    """How tags sort for people: versions by their meaning (``1.9`` before ``1.10``, ``1.0rc1``
    before ``1.0``, as ``packaging.version`` reads them), first; other tags after, in natural
    order (``build-2`` before ``build-10``)."""
    text = str(tag)
    try:
        return (0, Version(text), ())
    except InvalidVersion:
        # digits compared as numbers; (0, n) before (1, text) so a mixed tag never compares
        # an int with a str
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower())
                      for p in re.findall(r"\d+|\D+", text))
        return (1, Version("0"), parts)


def tag_order(tags: Iterable[Any]) -> list[int]:
    """The rank of each tag in :func:`tag_key` order (for the hidden ``tag order`` column)."""
    tags = list(tags)
    ranks = [0] * len(tags)
    for rank, i in enumerate(sorted(range(len(tags)), key=lambda i: tag_key(tags[i]))):
        ranks[i] = rank
    return ranks


def sort_tags(images: pd.DataFrame) -> pd.DataFrame:
    """``images`` by namespace, repository and tag in :func:`tag_key` order (index kept)."""
    if images.empty or "tag" not in images.columns:
        return images
    order = sorted(range(len(images)), key=lambda i: (
        str(images["namespace"].iloc[i]) if "namespace" in images.columns else "",
        str(images["repository"].iloc[i]), tag_key(images["tag"].iloc[i])))
    return images.iloc[order]


# Not itables' default layout on purpose: that one loses its search box and paging when the
# rows fit on one page, and the search box must be there at any size.
TABLE_LAYOUT = {"topStart": "pageLength", "topEnd": {"search": {"placeholder": "search all rows"}},
                "bottomStart": "info", "bottomEnd": "paging"}


def table_options(display: pd.DataFrame, *, select: Any = True, search: bool = True,
                  page_length: int = 25) -> dict[str, Any]:
    """The itables ``ITable`` options of a display frame: every row sent (``maxBytes=0``;
    otherwise itables silently drops rows that then cannot be selected), no index, paging
    always on, ``size`` sorted by the hidden ``bytes``, nothing selected.

    ``search``: the browser's own search box. The image table turns it off and searches in
    Python instead, so that what it exports and acts on is exactly what is shown."""
    # Without the browser's search box nothing is left above the table: the page length
    # goes below it too, so the rows start right under the toolbar.
    layout = TABLE_LAYOUT if search else {"topStart": None, "topEnd": None,
                                          "bottomStart": ["info", "pageLength"],
                                          "bottomEnd": "paging"}
    return {"select": select, "maxBytes": 0, "showIndex": False, "layout": layout,
            "columnDefs": size_column_defs(list(display.columns)), "pageLength": page_length,
            "lengthMenu": sorted({5, 10, 25, 100, 500} | {page_length}),
            "classes": "display compact nowrap", "style": "width:100%;margin:0",
            # itables' default makes a header's text selectable and only its small arrow
            # sort; people click the column name.
            "text_in_header_can_be_selected": False,
            "selected_rows": []}


def namespace_display(namespaces: pd.DataFrame) -> pd.DataFrame:
    """The namespace table: namespace, repositories, tags, size, newest image (and the
    hidden ``bytes``). "newest image" is the newest ``created`` date of its images: the
    registry records no push date, so it is not called "last pushed". Namespaces that exist only as declared (no repository yet) show
    ``0`` repositories."""
    out = pd.DataFrame(index=namespaces.index)
    out["namespace"] = namespaces["namespace"].astype(str)
    out["repositories"] = namespaces["repositories"].fillna(0).astype(int)
    out["tags"] = namespaces["tags"].fillna(0).astype(int)
    sizes = namespaces["size"].fillna(0).astype("int64")
    out["size"] = [human_size(s) for s in sizes]
    out["newest image"] = [format_time(t) for t in namespaces["last_pushed"]]
    out["bytes"] = sizes
    return out.reset_index(drop=True)


def image_display(images: pd.DataFrame) -> pd.DataFrame:
    """The image table, one row per tag: repository, tag, digest (short), platforms (joined),
    size, created, labels (cut short) and the hidden ``bytes``. Row ``i`` is row ``i`` of
    ``images``."""
    out = pd.DataFrame(index=images.index)
    out["repository"] = images["repository"].astype(str)
    out["tag"] = images["tag"].astype(str)
    out["digest"] = [short_digest(d) for d in images["digest"]]
    out["platforms"] = [join_platforms(p) for p in images["platforms"]]
    sizes = images["size"].fillna(0).astype("int64")
    out["size"] = [human_size(s) for s in sizes]
    out["created"] = [format_time(t) for t in images["created"]]
    out["labels"] = [format_labels(x) for x in images["labels"]]
    out["bytes"] = sizes
    out["tag order"] = tag_order(images["tag"])
    return out.reset_index(drop=True)


_TERM = re.compile(r'(?:(\w+):)?("[^"]*"|\S+)')


def _as_text(column: pd.Series) -> pd.Series:
    if column.dtype == object and len(column) and isinstance(column.iloc[0], (list, tuple)):
        return column.map(join_platforms)
    if column.dtype == object and len(column) and isinstance(column.iloc[0], dict):
        return column.map(lambda x: format_labels(x, None))
    if pd.api.types.is_datetime64_any_dtype(column):
        # astype(str): an empty column keeps its datetime dtype through map, and .str refuses it
        return column.map(format_time).astype(str)
    return column.astype(str)


def filter_frame(frame: pd.DataFrame, query: str = "", *,
                 namespace: str | None = None) -> pd.DataFrame:
    """The rows of ``frame`` matching ``query``, index kept.

    ``query`` is whitespace-separated terms, all of which must match, case-insensitively:
    ``column:text`` matches that column (``tag:1.0``, ``platforms:arm64``,
    ``labels:version``), plain ``text`` matches any column. Quote text with spaces.
    ``namespace`` keeps one namespace exactly. The browser's own search box does the same
    over the shown rows; this is for notebooks and for narrowing huge registries first.
    """
    mask = pd.Series(True, index=frame.index)
    if namespace:
        mask &= frame["namespace"] == namespace
    texts: dict[str, pd.Series] = {}

    def text_of(column: str) -> pd.Series:
        if column not in texts:
            texts[column] = _as_text(frame[column]).str.lower()
        return texts[column]

    for column, value in _TERM.findall(query or ""):
        value = value.strip('"').lower()
        if column:
            if column not in frame.columns:
                raise ValueError(f"no column {column!r} to filter on; the columns are "
                                 f"{', '.join(map(str, frame.columns))}")
            mask &= text_of(column).str.contains(value, regex=False)
        else:
            anywhere = pd.Series(False, index=frame.index)
            for name in frame.columns:
                anywhere |= text_of(name).str.contains(value, regex=False)
            mask &= anywhere
    return frame[mask]


def rows_at(frame: pd.DataFrame, positions: Iterable[int]) -> pd.DataFrame:
    """The rows at ``positions`` (a selection's ``selected_rows``), in order, each once;
    positions outside the frame (a selection from before a refresh) are dropped."""
    seen: list[int] = []
    for p in positions:
        if 0 <= p < len(frame) and p not in seen:
            seen.append(int(p))
    return frame.iloc[seen]


def selected_references(frame: pd.DataFrame, positions: Iterable[int]) -> list[str]:
    """The ``reference`` of each selected row (``registry/repository:tag``)."""
    return [str(r) for r in rows_at(frame, positions)["reference"]]


def digest_reference(row: pd.Series | dict) -> str:
    """``registry/repository@digest`` for a row of ``images()``."""
    ref = parse_reference(row["reference"])
    return str(Reference(ref.registry, ref.repository, None, row["digest"]))


def pull_command(reference: str | Reference, tool: str = "docker") -> str:
    """``docker pull REF`` (or ``podman pull``), the line a person pastes into a terminal."""
    return f"{tool} pull {parse_reference(reference)}"


def pull_commands(rows: pd.DataFrame) -> dict[str, list[str]]:
    """The pull commands of ``images()`` rows in three forms: ``docker``, ``podman``
    (fully qualified, as podman wants) and ``digest-pinned`` (``docker pull REPO@sha256:...``,
    which always gets exactly this image)."""
    refs = [str(r) for r in rows["reference"]]
    return {"docker": [pull_command(r) for r in refs],
            "podman": [pull_command(r, "podman") for r in refs],
            "digest-pinned": [pull_command(digest_reference(row))
                              for _, row in rows.iterrows()]}


def inspect_text(row: pd.Series | dict) -> str:
    """What is known about one image row, for a person: reference, digest, media type,
    platforms with their sizes, created, labels and the pull commands."""
    per_platform = row.get("size_per_platform") or {}
    lines = [f"reference:  {row['reference']}",
             f"digest:     {row['digest']}",
             f"media type: {row.get('media_type', '')}",
             # an artifact (a model, a dataset) has a type instead of a platform
             f"artifact:   {row['artifact_type']}" if row.get("artifact_type") else
             f"platforms:  {join_platforms(row.get('platforms')) or 'unknown'}",
             f"size:       {human_size(row.get('size'))} (compressed: config and layers)"]
    if len(per_platform) > 1:
        lines += [f"  {name or 'unknown'}: {human_size(size)}"
                  for name, size in per_platform.items()]
    lines.append(f"created:    {format_time(row.get('created')) or 'unknown'}")
    labels = row.get("labels") or {}
    lines.append("labels:" + ("" if labels else "     none"))
    lines += [f"  {k}={v}" for k, v in sorted(labels.items())]
    lines += ["pull:", f"  {pull_command(row['reference'])}",
              f"  {pull_command(digest_reference(row))}"]
    return "\n".join(lines)


def inspect_details(info: dict) -> str:
    """The ``inspect`` verb's answer for a person: run config, history, layers and the raw
    manifest (indented JSON of exactly what the registry stores)."""
    config = info.get("config") or {}
    run = config.get("config") or {}
    lines = ["config:"]
    for key in ("Entrypoint", "Cmd", "WorkingDir", "User", "Env", "ExposedPorts"):
        if run.get(key):
            value = run[key]
            value = " ".join(value) if isinstance(value, list) and key != "Env" else value
            if key == "Env":
                lines += [f"  Env: {item}" for item in value]
            else:
                lines.append(f"  {key}: {', '.join(value) if isinstance(value, dict) else value}")
    if config.get("os"):
        lines.append(f"  platform: {config.get('os')}/{config.get('architecture', '')}")
    history = info.get("history") or []
    lines.append(f"history ({len(history)} steps):")
    lines += [f"  {format_time(step.get('created')) or '':<20} {step.get('created_by', '')}"
              + ("  (no layer)" if step.get("empty_layer") else "") for step in history]
    layers = info.get("layers") or []
    lines.append(f"layers ({len(layers)}):")
    lines += [f"  {layer['digest']}  {human_size(layer['size'])}" for layer in layers]
    raw = info.get("raw_manifest", "")
    if raw is None:  # another platform of an index already shown: its manifest is there
        return "\n".join(lines)
    try:  # indented: one raw JSON line is unreadable (the exact bytes are in raw_manifest)
        raw = json.dumps(json.loads(raw), indent=2)
    except ValueError:
        pass
    lines += [f"manifest ({info.get('media_type', '')}):", raw]
    return "\n".join(lines)


def copy_target(source: str | Reference, registry: str, namespace: str = "",
                tag: str = "") -> str:
    """Where ``copy`` sends ``source``: the same repository name under ``registry`` and
    ``namespace`` (the source's own namespace when empty), at ``tag`` (the source's tag
    when empty). ``r1/ns/app:1`` to ``r2`` in ``team`` is ``r2/team/app:1``."""
    src = parse_reference(source)
    if not registry.strip():
        raise ValueError("give a target registry to copy to, e.g. us.icr.io")
    name = src.repository
    if namespace.strip():
        name = f"{namespace.strip()}/{src.repository.split('/', 1)[-1]}"
    new_tag = tag.strip() or src.tag or "latest"
    return str(Reference(registry.strip(), name, new_tag, None))


def push_target(local: str | Reference, registry: str, namespace: str | None) -> str:
    """Where a local image goes when pushed to ``registry``/``namespace``: its last name
    segment and tag, as the guide's ``docker tag busybox:latest us.icr.io/ns/busybox:1``."""
    if not namespace:
        raise ValueError("choose a namespace first: a pushed image goes to "
                         "registry/namespace/repository:tag")
    src = parse_reference(local)
    return str(Reference(registry, f"{namespace}/{src.repository.rsplit('/', 1)[-1]}",
                         src.tag or "latest", None))


def build_target(text: str, registry: str, namespace: str | None) -> str:
    """The reference a build is tagged with. ``app:1.0`` becomes ``registry/namespace/app:1.0``;
    a full reference (its first part is a registry, e.g. ``127.0.0.1:5000/ns/app:1``) is
    kept as written."""
    text = text.strip()
    if not text:
        raise ValueError("give the image a name and tag, e.g. hello:1.0")
    first, slash, _ = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return str(parse_reference(text))
    if not namespace:
        raise ValueError(f"choose a namespace for {text!r}, or write the full reference "
                         "registry/namespace/repository:tag")
    name, colon, tag = text.rpartition(":")
    if not colon:
        name, tag = text, "latest"
    return str(Reference(registry, f"{namespace}/{name}", tag, None))


def plan_text(plans: Sequence[Any]) -> str:
    """Removal plans (``RemovalPlan``s from ``plan_remove``) for a person: each plan's own
    ``describe()`` (what goes, the co-tags that stay or go with a digest, what blocks it),
    then the totals: tags and digests removed and the bytes freed."""
    if not plans:
        return "Nothing selected: select rows in the table first."
    lines: list[str] = []
    tags: dict[str, None] = {}
    digests: dict[str, None] = {}
    blocked = 0
    freed = 0
    for plan in plans:
        lines.append(plan.describe())
        if not plan.allowed:
            blocked += 1
            continue
        tags.update((f"{plan.repository}:{tag}", None) for tag in plan.tags_removed)
        if plan.kind == "digest":
            digests[f"{plan.repository}@{plan.digest}"] = None
        freed += int(plan.bytes_freed_estimate or 0)
    lines += ["", f"In all: {counted(len(tags), 'tag')} and "
                  f"{counted(len(digests), 'digest')} removed, up to "
                  f"{human_size(freed)} freed once the registry's garbage collection runs."]
    if tags:
        lines.append("Tags that go: " + ", ".join(tags))
    if blocked:
        lines.append(f"{blocked} of these are BLOCKED (see above) and will be skipped.")
    lines.append("Nothing has been deleted yet: Confirm deletes, Cancel keeps everything.")
    return "\n".join(lines)


def namespace_plan_text(namespace: str, details: dict[str, Any]) -> str:
    """What removing a namespace deletes, from the ``details`` of
    ``remove_namespace(..., dry_run=True)``: repositories, tags and digests, bytes freed."""
    lines = [f"Removing namespace {namespace!r} deletes:"]
    for key, label in (("repositories", "repositories"), ("tags_removed", "tags"),
                       ("digests", "digests")):
        items = list(details.get(key) or [])
        lines.append(f"{len(items)} {label}" + (":" if items else ""))
        lines += [f"  {item}" for item in items]
    if details.get("bytes_freed_estimate") is not None:
        lines.append(f"Up to {human_size(details['bytes_freed_estimate'])} freed once the "
                     "registry's garbage collection runs.")
    lines.append("Nothing has been deleted yet: Confirm deletes, Cancel keeps everything.")
    return "\n".join(lines)


def export_frame(images: pd.DataFrame) -> pd.DataFrame:
    """``images()`` ready for CSV: lists joined, labels as ``k=v; ...``, full digests."""
    out = images.copy()
    for column in out.columns:
        if out[column].dtype == object and len(out):
            first = next((v for v in out[column] if v is not None), None)
            if isinstance(first, (list, tuple)):
                out[column] = out[column].map(join_platforms)
            elif isinstance(first, dict):
                out[column] = out[column].map(
                    lambda d: "; ".join(f"{k}={v}" for k, v in sorted((d or {}).items())))
    return out


def export_json(images: pd.DataFrame) -> str:
    """``images()`` rows as a JSON array of objects: lists and labels kept as JSON, times
    in ISO 8601 (UTC), full digests."""
    out = images.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda t: None if pd.isna(t) else
                                          pd.Timestamp(t).isoformat())
    return out.to_json(orient="records", date_format="iso", default_handler=str, indent=1)
