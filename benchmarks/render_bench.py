"""How fast a 10,000-row ``ImageTable`` is built in Python and drawn in a real browser.

``python -m benchmarks.render_bench [ROWS] [--runs N]`` (defaults: 10,000 rows, 3 runs)
prints the medians; ``measure_render(rows, runs=...)`` returns them. No registry is involved:
the table shows a synthetic ``images()`` frame (``synthetic_images``) through
``ImageTable.show_frame``, exactly what Refresh does after listing.

What is measured, each a median over ``runs``:

``build_s`` (target < 1 s at 10,000 rows)
    In this process: ``ImageTable()`` then ``show_frame(frame)``, i.e. the display frame,
    the itables data and the widget state, ready to send. Making the synthetic frame (what
    listing a registry would produce) is not counted; one untimed build first warms the
    imports, as in a notebook where the widgets were already used.
``render_s`` (target < 1.5 s at 10,000 rows)
    In headless Chromium, on a Voila page whose kernel has already made the frame (and,
    as here, built one tiny table to warm the imports): from the click on a "New table"
    button (``performance.now()`` in the page, right before the click) to the new table
    being visible: its itables info line reads "... of 10,000 entries" and its first row
    is laid out (checked on every animation frame). It covers the click's trip to the
    kernel, the build there (each run is a fresh page with a fresh kernel), sending the new
    widgets' state and the browser creating them and drawing the table: "run to visible"
    as a person running a cell that shows a new table feels it.
``kernel_build_s``
    The build inside the kernel during those runs (part of ``render_s``), for comparison.
``refresh_s``
    Then, on the same page, the frame shown in an ``ImageTable`` that was already there,
    empty, since the page opened (``show_frame``): click to visible, as on a dashboard
    where a namespace of 10,000 tags is chosen or refreshed.

The browser plumbing here (``voila``, ``chromium``, ``new_page``) is shared with
``tests/test_browser.py``. It follows shared/BROWSER-TESTS.md: Debian's ``/usr/bin/chromium``
driven by the Playwright Python package (never ``playwright install``), every non-loopback
request aborted, one Voila on a free port, stopped by its PID together with its kernels.

Imports ``registry_widgets.widgets`` (the widget measured), ``devstack`` (free
ports) and, when it runs, Playwright, Voila and nbformat.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("REGISTRY_WIDGETS_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: Chromium's own background calls would only fail slowly.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1")
TARGET_ROWS = 10_000
TARGETS = {"build_s": 1.0, "render_s": 1.5}  # at TARGET_ROWS
ROWS_ENV = "RENDER_BENCH_ROWS"


# -- the data ---------------------------------------------------------------------------------

def synthetic_images(rows: int, registry: str = "registry.example.com") -> pd.DataFrame:
    """An ``images()``-shaped frame of ``rows`` tags: 10 tags per repository (the last,
    ``latest``, a co-tag of the one before), repositories spread over 20 namespaces, every
    fourth one multi-arch, all labelled and dated. Deterministic."""
    from registry_widgets.operations.images.inventory import COLUMNS

    data: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    start = pd.Timestamp("2024-01-01T00:00:00Z")
    for i in range(rows):
        repo_no, tag_no = divmod(i, 10)
        namespace = f"team-{repo_no % 20:02d}"
        repository = f"{namespace}/service-{repo_no // 20:03d}"
        tag = "latest" if tag_no == 9 else f"1.{tag_no}.{repo_no % 7}"
        digest_of = i - 1 if tag_no == 9 else i  # "latest" is a co-tag of the tag before it
        digest = "sha256:" + hashlib.sha256(f"image-{digest_of}".encode()).hexdigest()
        multiarch = repo_no % 4 == 0
        platforms = ["linux/amd64", "linux/arm64/v8"] if multiarch else ["linux/amd64"]
        size = 20_000_000 + (digest_of * 7_919) % 180_000_000
        data["namespace"].append(namespace)
        data["repository"].append(repository)
        data["tag"].append(tag)
        data["digest"].append(digest)
        data["media_type"].append("application/vnd.oci.image.index.v1+json" if multiarch
                                  else "application/vnd.oci.image.manifest.v1+json")
        data["platforms"].append(platforms)
        data["size"].append(size)
        data["size_per_platform"].append({p: size // len(platforms) for p in platforms})
        data["created"].append(start + pd.Timedelta(hours=digest_of))
        data["labels"].append({"org.opencontainers.image.version": tag,
                               "org.opencontainers.image.vendor": "Example Corp"})
        data["accessories"].append({})
        data["reference"].append(f"{registry}/{repository}:{tag}")
        data["artifact_type"].append(None)  # an image, not an OCI artifact
    frame = pd.DataFrame(data, columns=COLUMNS)
    frame["size"] = frame["size"].astype("int64")
    frame["created"] = pd.to_datetime(frame["created"], utc=True).astype("datetime64[us, UTC]")
    return frame


def build_table(frame: pd.DataFrame) -> Any:
    """What ``build_s`` times: a new ``ImageTable`` showing ``frame``."""
    from registry_widgets.widgets import ImageTable

    table = ImageTable()
    table.show_frame(frame)
    return table


# -- serving a notebook with Voila ------------------------------------------------------------

def _free_port() -> int:
    from devstack._process import free_port
    return free_port()


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (Voila's kernels)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class VoilaServer:
    """A running ``voila NOTEBOOK``: ``url``, ``port``, ``log_file``, ``log()``, ``stop()``."""

    def __init__(self, notebook: Path, *, env: dict[str, str], log_file: Path,
                 timeout: float = 60.0):
        self.notebook, self.log_file = Path(notebook), Path(log_file)
        self.kernels: set[int] = set()
        self.proc: subprocess.Popen | None = None
        for _attempt in range(3):  # free_port() races with other sessions on this machine
            self.port = _free_port()
            argv = [sys.executable, "-m", "voila", str(self.notebook), "--no-browser",
                    f"--port={self.port}", "--Voila.ip=127.0.0.1", "--show_tracebacks=True"]
            with open(self.log_file, "ab") as log:
                # Own session: Ctrl-C in the terminal does not reach it; stop() ends it.
                self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             cwd=self.notebook.parent)
            if self._wait_listening(timeout):
                return
        self.stop()
        raise RuntimeError(f"voila did not start serving {self.notebook}; its log:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _wait_listening(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"voila did not listen on {self.port} within {timeout:.0f} s; "
                           f"its log:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def note_kernels(self) -> None:
        """Remember the kernels running now (call while pages are open): ``stop`` checks
        they ended, and ends any that did not."""
        if self.proc is not None and self.proc.poll() is None:
            self.kernels.update(_children(self.proc.pid))

    def stop(self) -> None:
        """SIGTERM to Voila (it shuts its kernels down), SIGKILL after 15 s; then make sure
        every kernel it started is gone (they also exit when their parent dies)."""
        if self.proc is None:
            return
        self.note_kernels()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        deadline = time.monotonic() + 10
        while any(_alive(k) for k in self.kernels) and time.monotonic() < deadline:
            time.sleep(0.1)
        for kernel in self.kernels:
            if _alive(kernel):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(kernel, signal.SIGKILL)
        self.proc = None


@contextlib.contextmanager
def voila(notebook: Path, *, env: dict[str, str] | None = None,
          log_file: Path | None = None) -> Iterator[VoilaServer]:
    """Serve ``notebook`` with Voila on a free loopback port while the block runs.

    ``env`` is added to this process's environment (kernels inherit it); the Voila log goes
    to ``log_file`` (default: beside the notebook)."""
    full_env = dict(os.environ, **(env or {}))
    server = VoilaServer(Path(notebook), env=full_env,
                         log_file=log_file or Path(notebook).with_suffix(".voila.log"))
    try:
        yield server
    finally:
        server.stop()


# -- the browser ------------------------------------------------------------------------------

def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    try:
        import voila  # noqa: F401
    except ImportError:
        return "voila is not installed (pip install voila)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``) from Debian's package."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def block_outside(route: Any) -> None:
    """Route handler: loopback requests go through, everything else is aborted (Voila's
    page asks a CDN for icon fonts; only the icons are lost)."""
    if route.request.url.startswith(LOOPBACK):
        route.continue_()
    else:
        route.abort()


def new_page(browser: Any, *, width: int = 1400, height: int = 900) -> Any:
    """A page in a fresh context (no shared cache or storage) that reaches loopback only."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", block_outside)
    return context.new_page()


# -- the measurement --------------------------------------------------------------------------

_NOTEBOOK_SETUP = f"""\
import os, time
import ipywidgets as w
from benchmarks.render_bench import build_table, synthetic_images

frame = synthetic_images(int(os.environ["{ROWS_ENV}"]))
build_table(frame.head(1))  # warm the imports, untimed, as in the benchmark's process
existing = build_table(frame.head(0))  # an empty table on the page, as on a dashboard
existing.add_class("rw-bench-existing")
built = w.Label("")
built.add_class("rw-bench-built")
out = w.VBox()
out.add_class("rw-bench-new")

def timed(action):
    def run(_button):
        start = time.perf_counter()
        action()
        built.value = f"{{time.perf_counter() - start:.6f}}"
    return run

def new_table():
    table = build_table(frame)
    out.children = [table]

render = w.Button(description="New table")
render.add_class("rw-bench-render")
render.on_click(timed(new_table))
refresh = w.Button(description="Show in the existing table")
refresh.add_class("rw-bench-refresh")
refresh.on_click(timed(lambda: existing.show_frame(frame)))
display(w.VBox([w.HBox([render, refresh]), built,
                w.HTML("<b>new</b>"), out, w.HTML("<b>existing</b>"), existing]))
"""

# True once the info line of the table in ``scope`` counts every row and its first row is
# laid out; records the time.
_VISIBLE_JS = """([rows, scope]) => {
  const grid = document.querySelector(scope + ' .rw-image-grid');
  const info = grid && grid.querySelector('.dt-info');
  if (!info) return false;
  const m = info.textContent.match(/of\\s+([\\d.,\\s\\u00a0\\u202f]+?)\\s+entries/);
  if (!m || Number(m[1].replace(/\\D/g, '')) !== rows) return false;
  const row = grid.querySelector('tbody tr');
  if (!row || row.getBoundingClientRect().height === 0) return false;
  window.__renderEnd = performance.now();
  return true;
}"""

_CLICK_JS = """(button) => {
  window.__renderStart = performance.now();
  document.querySelector(button).click();
}"""


def write_notebook(folder: Path) -> Path:
    """The Voila page of the benchmark: makes the frame, shows an empty ImageTable and two
    buttons: a new table with the frame, the frame in the existing table."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(_NOTEBOOK_SETUP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = Path(folder) / "render_bench.ipynb"
    nbformat.write(nb, path)
    return path


def _click_to_visible(page: Any, button: str, scope: str, rows: int,
                      timeout_ms: float) -> tuple[float, float]:
    """Click ``button``, wait for the table in ``scope`` to show ``rows`` rows:
    (click to visible, the action's time in the kernel), in seconds."""
    built = page.locator(".rw-bench-built")
    built.evaluate("label => { label.textContent = ''; }")
    page.evaluate(_CLICK_JS, button)
    page.wait_for_function(_VISIBLE_JS, arg=[rows, scope], polling="raf", timeout=timeout_ms)
    seconds = page.evaluate("() => (window.__renderEnd - window.__renderStart) / 1000")
    built.filter(has_text=re.compile(r"\d")).wait_for(timeout=timeout_ms)
    return float(seconds), float(built.inner_text().strip())


def _render_once(browser: Any, server: VoilaServer, rows: int,
                 timeout_ms: float) -> tuple[float, float, float]:
    """On a fresh page (a fresh kernel): (new table, its build in the kernel, the frame in
    the existing table)."""
    page = new_page(browser)
    try:
        page.goto(server.url, timeout=timeout_ms)
        page.locator("button.rw-bench-refresh").wait_for(timeout=timeout_ms)
        page.locator(".rw-bench-existing .dt-info").wait_for(timeout=timeout_ms)
        server.note_kernels()
        render, built = _click_to_visible(page, "button.rw-bench-render", ".rw-bench-new",
                                          rows, timeout_ms)
        refresh, _ = _click_to_visible(page, "button.rw-bench-refresh", ".rw-bench-existing",
                                       rows, timeout_ms)
        return render, built, refresh
    finally:
        page.context.close()


def measure_render(rows: int, *, runs: int = 3, timeout: float = 120.0) -> dict[str, Any]:
    """Medians in seconds, for an ``ImageTable`` of ``rows`` synthetic tags, over ``runs``:
    ``build_s`` (Python, this process), ``render_s`` (a new table, click to visible in
    headless Chromium, served by Voila), ``kernel_build_s`` (its build in the kernel) and
    ``refresh_s`` (the frame shown in a table already on the page). Also ``rows``, ``runs``,
    each run (``build_runs``, ``render_runs``, ...), ``targets``, and ``cpus`` and
    ``load`` (1-minute load average before the runs): the browser numbers move with both.
    See the module docstring for exactly what each covers."""
    if rows < 1 or runs < 1:
        raise ValueError("rows and runs must be at least 1")
    why = chromium_missing()
    if why:
        raise RuntimeError(f"cannot measure the browser part: {why}")

    load = os.getloadavg()[0]
    frame = synthetic_images(rows)
    build_table(frame.head(1))  # warm the imports and itables' assets, untimed
    build_runs = []
    for _ in range(runs):
        start = time.perf_counter()
        build_table(frame)
        build_runs.append(time.perf_counter() - start)

    render_runs: list[float] = []
    kernel_runs: list[float] = []
    refresh_runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        folder = Path(tmp)
        env = {ROWS_ENV: str(rows),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        for name in ("REGISTRY_WIDGETS_STATE", "XDG_CACHE_HOME", "DOCKER_CONFIG"):
            (folder / name).mkdir()
            env[name] = str(folder / name)
        notebook = write_notebook(folder)
        with (voila(notebook, env=env, log_file=folder / "voila.log") as server,
              chromium() as browser):
            for _ in range(runs):
                try:
                    seconds, built, refreshed = _render_once(browser, server, rows,
                                                             timeout * 1000)
                except Exception as e:
                    raise RuntimeError(f"rendering {rows} rows failed: {e}\nVoila's log:\n"
                                       f"{server.log()}") from e
                render_runs.append(seconds)
                kernel_runs.append(built)
                refresh_runs.append(refreshed)

    return {"rows": rows, "runs": runs,
            "build_s": statistics.median(build_runs),
            "render_s": statistics.median(render_runs),
            "kernel_build_s": statistics.median(kernel_runs),
            "refresh_s": statistics.median(refresh_runs),
            "build_runs": build_runs, "render_runs": render_runs,
            "kernel_build_runs": kernel_runs, "refresh_runs": refresh_runs,
            "targets": dict(TARGETS), "cpus": os.cpu_count(), "load": load}


def _report(result: dict[str, Any]) -> str:
    lines = [f"ImageTable with {result['rows']:,} rows, medians of {result['runs']} run(s) "
             f"({result['cpus']} CPUs, load {result['load']:.1f} before):"]
    for key, what in (("build_s", "build in Python (ImageTable + show_frame)"),
                      ("render_s", "browser: new table, click to visible"),
                      ("kernel_build_s", "  of which the build in the kernel"),
                      ("refresh_s", "browser: show_frame into a table on the page")):
        target = result["targets"].get(key) if result["rows"] == TARGET_ROWS else None
        verdict = "" if target is None else \
            f"  (target < {target:g} s: {'met' if result[key] < target else 'MISSED'})"
        runs = ", ".join(f"{x:.3f}" for x in result[key.replace("_s", "_runs")])
        lines.append(f"  {what:<44} {result[key]:7.3f} s   [{runs}]{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=TARGET_ROWS)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(_report(measure_render(args.rows, runs=args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
