"""Scenario 5: the 10,000-row image table, built in Python and drawn in a browser.

Times ``widgets.tables.image_display`` (the plain function that turns an ``images()`` frame
into the short strings the browser gets) and ``ImageTable.show_frame`` (filter, display
frame and the itables widget's update), and reports how much JSON the widget then holds for
the browser. The frame is scenario 4's table, tiled with new tag names up to the size wanted
when it is smaller, or a synthetic one when scenario 4 did not run.

The browser's part comes from ``render_bench.measure_render`` (Voila serving a notebook
that builds the table, headless Chromium timing click to visible) when Chromium is there.
"""

from __future__ import annotations

import importlib.util
import json

import pandas as pd

from .harness import Settings, Stopwatch, log
from .report import Report

FULL_ROWS, QUICK_ROWS = 10_000, 200
BUILD_TARGET, RENDER_TARGET = 1.0, 1.5  # seconds at 10,000 rows (render_bench.TARGETS)


def synthetic_images(rows: int, registry: str = "127.0.0.1:5000") -> pd.DataFrame:
    """An ``images()``-shaped frame of ``rows`` tags (when no registry listing is at hand)."""
    from registry_widgets.operations.images.inventory import COLUMNS

    records = []
    for i in range(rows):
        repository, tag = f"team-{i // 250:02d}/app-{i // 10 % 25:02d}", f"1.{i % 10}.0"
        records.append({
            "namespace": repository.split("/")[0], "repository": repository, "tag": tag,
            "digest": f"sha256:{i:064x}", "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platforms": ["linux/amd64"], "size": 4096 + i, "size_per_platform": {"linux/amd64": 4096 + i},
            "created": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=i),
            "labels": {"org.opencontainers.image.version": tag}, "reference": f"{registry}/{repository}:{tag}"})
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["created"] = frame["created"].astype("datetime64[us, UTC]")
    return frame


def enlarge(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """``frame`` repeated (tags renamed ``<tag>-copyN``) until it has ``rows`` rows."""
    if len(frame) >= rows or frame.empty:
        return frame.head(rows).reset_index(drop=True)
    parts = []
    for copy in range(-(-rows // len(frame))):
        part = frame.copy()
        if copy:
            part["tag"] = part["tag"] + f"-copy{copy}"
            part["reference"] = part["reference"] + f"-copy{copy}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).head(rows)


def widgets_scenario(settings: Settings, report: Report, table: pd.DataFrame | None) -> None:
    rows = QUICK_ROWS if settings.quick else FULL_ROWS
    scenario = f"5 widgets, a {rows:,}-row image table"
    display_row = report.add(scenario, "tables.image_display(frame) (the display frame)")
    widget_row = report.add(scenario, "ImageTable() + show_frame(frame) (in Python)")
    if importlib.util.find_spec("registry_widgets.widgets") is None:
        for row in (display_row, widget_row):
            row.error = "registry_widgets.widgets does not exist yet"
        return
    from registry_widgets.widgets import ImageTable
    from registry_widgets.widgets.tables import image_display

    source = "scenario 4's listing" if table is not None and len(table) else "a synthetic frame"
    frame = enlarge(table, rows) if table is not None and len(table) else synthetic_images(rows)
    ImageTable().show_frame(frame.head(1))  # imports and itables' assets, as in a used kernel
    widget = None
    for number in range(settings.runs):
        log(f"scenario 5 run {number + 1}")
        try:
            with Stopwatch() as watch:
                image_display(frame)
            display_row.samples.append(watch.seconds)
            with Stopwatch() as watch:
                widget = ImageTable()
                widget.show_frame(frame)
            widget_row.samples.append(watch.seconds)
        except Exception as e:  # noqa: BLE001 - report and go on
            widget_row.error = f"{type(e).__name__}: {e}"[:300]
    display_row.note = f"{len(frame):,} rows from {source}"
    if rows == FULL_ROWS:
        widget_row.target = f"< {BUILD_TARGET:g} s"
        widget_row.met = widget_row.median is not None and widget_row.median < BUILD_TARGET
    if widget is not None:
        payload = widget.table._dt_args.get("data_json") or ""
        size = len(payload if isinstance(payload, str) else json.dumps(payload))
        widget_row.note = (f"filter, display frame, itables data; the widget then holds "
                           f"{size / 2**20:.1f} MiB of row JSON for the browser")
    browser_rows(settings, report, scenario, rows)


def browser_rows(settings: Settings, report: Report, scenario: str, rows: int) -> None:
    """The browser's part, by ``render_bench.measure_render`` (Voila + headless Chromium)."""
    render = report.add(scenario, "browser: a new ImageTable, click to visible")
    if not settings.browser:
        render.note = "not measured here (--no-browser)"
        return
    try:
        from .render_bench import chromium_missing, measure_render
    except ImportError as e:
        render.note = f"not measured here ({e})"
        return
    missing = chromium_missing()
    if missing:
        render.note = f"not measured here: {missing}"
        return
    kernel = report.add(scenario, "browser: of that, the build in the kernel")
    refresh = report.add(scenario, "browser: show_frame into a table already on the page")
    log("scenario 5: the browser (Voila + headless Chromium)")
    try:
        result = measure_render(rows, runs=settings.runs)
    except Exception as e:  # noqa: BLE001 - report and go on
        render.error = f"{type(e).__name__}: {e}"[:300]
        return
    render.samples, kernel.samples, refresh.samples = (
        list(result["render_runs"]), list(result["kernel_build_runs"]),
        list(result["refresh_runs"]))
    if rows == FULL_ROWS:
        render.target = f"< {RENDER_TARGET:g} s"
        render.met = render.median is not None and render.median < RENDER_TARGET
    render.note = ("render_bench: Voila page, click on a button to the table's first row "
                   "laid out; a synthetic frame of the same size")
