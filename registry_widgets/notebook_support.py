"""Small helpers the tour's notebooks share, so each notebook stays a few thin calls.

``default_registry()`` (the embedded registry unless the environment says otherwise),
``login()`` (reuse `docker login`, or ask for a password when a person is there),
``engine_status()``, ``progress()`` (a progress widget for people, nothing when headless),
``show()`` (one summary line), ``image_rows()`` and ``namespace_rows()`` (short tables for
headless runs), one helper per step that needs more than a verb (``export_csv()``,
``retention_plan_rows()``, ``retention_namespace()``, ``sync_rows()``, ``sync_by_status()``,
``raise_for_failures()``, ``findings_rows()``, ``usage_rows()``), ``record()`` (the JSON a
run's last cell prints for CI) and ``summarize()`` (what a person reads after it: the run at
a glance).

This module is the notebooks' public support module: a notebook imports only the names in
``registry_widgets.__all__`` and this module (tests/test_notebooks.py checks it), so the
package's internal modules can move without touching a notebook.

Errors are never caught here to be printed: a headless run must fail loudly, so that
papermill exits non-zero and puts the error at the top of the executed notebook.
Nothing here prints or returns a secret.

Layer 4 beside the widgets: imports the verbs (``operations``), ``credentials``, ``errors``,
``paths``, ``reference`` and the widgets; never ``registry`` or ``transport``.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from . import paths
from .credentials import Credentials, credentials_for
from .errors import ConfirmationRequired, EngineUnavailable, Unauthorized
from .operations.core.arguments import check_bool
from .operations.core.clients import configure
from .operations.images.copy import describe_copy  # noqa: F401  (the copy notebook's plan text)
from .operations.images.ibm_cloud import API_KEY_ENV, IBM_USER, is_ibm
from .operations.images.inspect import check
from .operations.images.local import local_images
from .operations.core.result import Result
from .paths import default_registry  # the notebooks call it as nb.default_registry()
from .reference import Reference, parse_reference

if TYPE_CHECKING:
    from .operations.security.scan import ScanReport


# -- before you begin ----------------------------------------------------------------------

def engine_status() -> dict[str, Any]:
    """Whether a Docker engine answers (pull, tag, push and build need one; copy, remove and
    the listings do not). ``{"available": bool, "images": n}`` or ``{..., "reason": why}``."""
    try:
        frame = local_images()
    except EngineUnavailable as e:  # optional: the registry-only notebooks still work
        return {"available": False, "reason": str(e)}
    return {"available": True, "images": len(frame)}


def _docker_config_source(registry: str) -> str:
    """Where Docker's config says credentials for ``registry`` live (never what they are)."""
    path = paths.docker_config_file()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"Docker's config ({path})"
    host = registry.rpartition("://")[2].split("/", 1)[0]
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if helper:
        return f"Docker's config ({path}, credential helper docker-credential-{helper})"
    return f"Docker's config ({path})"


def login(registry: str, *, ca_bundle: str | None = None, insecure: bool = False,
          username: str | None = None, interactive: bool = True,
          ask_username: Callable[[str], str] = input,
          ask_password: Callable[[str], str] = getpass.getpass) -> dict[str, Any]:
    """Log in to ``registry`` for this kernel, then ping it; returns what a person may see.

    Credentials come from Docker's config (what `docker login` stored). When there are none
    and the registry answers "unauthorized: authentication required", a person
    (``interactive``) is asked for a username and a password (``getpass``: never echoed,
    never stored on disk, kept in this kernel's memory by ``configure``); a headless run
    raises the registry's Unauthorized error instead. The returned dict holds the registry,
    the username, where the credentials came from and how the registry authenticates: never
    a password or token.
    """
    # bool("no") is True: a flag must be a real bool, or "insecure" would switch TLS off.
    options = {"ca_bundle": ca_bundle or None, "insecure": check_bool("insecure", insecure)}
    check_bool("interactive", interactive)
    found = credentials_for(registry)
    creds = found if found is not None and not found.is_anonymous else None
    source = _docker_config_source(registry) if creds else "nowhere (anonymous access)"
    if creds is None and os.environ.get(API_KEY_ENV) and is_ibm(registry):
        # IBM Cloud: the environment's API key as user iamapikey, in memory only.
        creds = Credentials(username=IBM_USER, password=os.environ[API_KEY_ENV])
        source = f"{API_KEY_ENV} (an IBM Cloud API key; kept in this kernel's memory only)"
    configure(registry, credentials=creds, **options)  # None: Docker's config, read again later
    try:
        answer = check(registry)
    except Unauthorized:
        if creds is not None or not interactive:
            raise
        user = username or ask_username(f"Username for {registry}: ").strip()
        secret = ask_password(f"Password for {user} at {registry} (kept in memory only): ")
        configure(registry, credentials=Credentials(username=user, password=secret), **options)
        del secret
        answer = check(registry)  # still refused: raise, a person reads why
        creds = Credentials(username=user)
        source = "typed in (kept in this kernel's memory only)"
    return {"registry": answer["registry"], "url": answer["url"],
            "username": creds.username if creds else None, "credentials_from": source,
            "auth": answer["auth"], "api_version": answer["api_version"]}


# -- the steps -----------------------------------------------------------------------------

def progress(action: str, interactive: bool) -> Any:
    """A ``ProgressView`` shown in the cell output for people; ``None`` when headless (no
    per-layer output: the executed notebook stays small, the summary says what happened)."""
    if not interactive:
        return None
    from IPython.display import display

    from .widgets import ProgressView

    view = ProgressView()
    view.start(action)
    display(view)
    return view


def check_target(ref: Reference | str, *, example: str, dry_run: bool,
                 interactive: bool) -> None:
    """Refuse a headless deletion of the notebook's own example (``example``, a
    ``namespace/repository:tag`` in the default registry): headless, a notebook that deletes
    has no default target, so a run that forgot ``-p ref`` deletes nothing. A dry run, or a
    person in JupyterLab, may use the example. ``python -m registry_widgets run`` already
    refuses this before the kernel starts; this guards plain papermill runs."""
    if dry_run is True or interactive is True:
        return
    if parse_reference(ref) == parse_reference(f"{default_registry()}/{example}"):
        raise ConfirmationRequired(
            f"{ref} is this notebook's example, not a target you named: a headless run with "
            "dry_run False removes only what it is told, so nothing was removed. Pass the "
            "image to remove (-p ref REGISTRY/NAMESPACE/REPOSITORY:TAG)",
            reference=str(ref))


def show(result: Result, view: Any = None) -> None:
    """Print the one-line summary of a verb's result (and close its progress view)."""
    if view is not None:
        view.finish(result.summary())
    print(result.summary())
    for warning in result.details.get("warnings", []):
        print("warning:", warning)


def local_rows(ref: Reference | str) -> pd.DataFrame:
    """The local images (``local_images()``) of ``ref``'s repository, every tag: repository,
    tag, image id and the digest the registry served."""
    wanted = parse_reference(ref).name
    frame = local_images()
    mine = [parse_reference(name).name == wanted for name in frame["repository"]]
    return frame[mine][["repository", "tag", "image_id", "digest"]].reset_index(drop=True)


def is_local(ref: Reference | str) -> bool:
    """Whether the engine has ``ref`` (that tag, or that digest) already."""
    ref = parse_reference(ref)
    rows = local_rows(ref)
    return bool((rows["digest"] == ref.digest).any() if ref.digest
                else (rows["tag"] == ref.tag).any())


def sample_build_context(directory: str | os.PathLike[str] | None = None) -> str:
    """Write the tour's sample app (a Dockerfile and ``hello.txt``) and return its folder:
    ``directory``, else ``paths.sample_app_dir()`` (``sample-app`` in the state folder).

    The base image comes from the build argument ``BASE`` (a busybox in the embedded
    registry), because nothing can be pulled from the internet here.
    """
    folder = Path(directory) if directory else paths.sample_app_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        "# The tour's sample app: busybox plus a greeting.\n"
        "ARG BASE\n"
        "FROM ${BASE}\n"
        "COPY hello.txt /hello.txt\n"
        'CMD ["cat", "/hello.txt"]\n', encoding="utf-8")
    (folder / "hello.txt").write_text("Hello from a freshly built image!\n", encoding="utf-8")
    return str(folder)


def image_rows(frame: pd.DataFrame, *, max_rows: int = 50) -> pd.DataFrame:
    """``images()`` as a short table for headless output: reference, digest (short),
    platforms, size, created; at most ``max_rows`` rows (the CSV export has them all)."""
    from .widgets.tables import format_time, human_size, join_platforms, short_digest

    out = pd.DataFrame({
        "reference": frame["reference"].astype(str),
        "digest": [short_digest(d) for d in frame["digest"]],
        "platforms": [join_platforms(p) for p in frame["platforms"]],
        "size": [human_size(s) for s in frame["size"]],
        "created": [format_time(t) for t in frame["created"]],
    })
    return out.head(max_rows)


def namespace_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``namespaces()`` as a short table: namespace, repositories, tags, size, last pushed."""
    from .widgets.tables import namespace_display

    return namespace_display(frame).drop(columns=["bytes"])



def export_csv(listing: pd.DataFrame, path: str | os.PathLike[str]) -> int:
    """Write ``images()`` to a CSV file (lists joined, labels as ``k=v; ...``, full
    digests); the number of rows written."""
    from .widgets.tables import export_frame

    export_frame(listing).to_csv(path, index=False)
    return len(listing)


def retention_plan_rows(result: Result, *, max_rows: int = 50) -> pd.DataFrame:
    """A ``retention()`` result's plan as the Clean up tab shows it: a row per tag (what goes
    first), short digests, sizes, why; at most ``max_rows`` rows."""
    from .operations.cleanup.retention import plan_frame
    from .widgets.cleanup_panel import plan_display

    return plan_display(plan_frame(result.details["plan"])).drop(columns=["bytes"]).head(max_rows)


def retention_namespace(target: str) -> tuple[str, str]:
    """``registry/namespace`` or ``registry/namespace/repository`` -> (registry, namespace),
    checked as ``retention()`` checks its target (BadReference before any request)."""
    from .operations.core.policies import split_target

    registry, namespace, _ = split_target(target, verb="retention")
    return registry, namespace


def sync_rows(result: Result) -> pd.DataFrame:
    """One row per image of a ``sync()`` (or its dry run): image, kind, action, status, size
    and error, as the Sync panel shows them."""
    from .widgets.sync_panel import sync_rows as rows

    return rows(result)


def sync_by_status(result: Result) -> dict[str, list[str]]:
    """The images of a ``sync()`` by outcome: ``{"copied": [source refs], "skipped": [...],
    "failed": ["ref: error", ...]}`` (a dry run: by planned action)."""
    from .operations.mirror.sync import by_status

    return by_status(result)


def raise_for_failures(result: Result) -> Result:
    """A ``sync()`` result itself, or SyncIncomplete naming the images that failed: a
    headless run must exit non-zero when a mirror is incomplete."""
    from .operations.mirror.sync import raise_for_failures as check_sync

    return check_sync(result)


def findings_rows(report: ScanReport) -> pd.DataFrame:
    """A ``scan()`` report's findings as the Scan panel shows them: exempt findings stay,
    marked in ``status``."""
    from .widgets.scan_panel import findings_display

    return findings_display(report)


# -- the record ----------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_dict()
    if hasattr(value, "to_dict") and not isinstance(value, (pd.DataFrame, pd.Series)):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record(value: Any) -> None:
    """Print the JSON record of a run: a ``Result``, or a dict of them and other facts. It
    is the last output of every notebook, what CI reads (``json.loads`` of the cell's text).
    """
    print(json.dumps(_plain(value), default=str, indent=1, sort_keys=True))


def _outcome(value: Any) -> str:
    """One line for a step: a Result's own summary (a plan's first line where the verb wrote
    one), its counts, and for a dry run how many changes its plan holds; a scan's status and
    counts; "not run" for None."""
    if value is None:
        return "not run"
    if hasattr(value, "counts") and hasattr(value, "status"):  # a ScanReport
        counts = ", ".join(f"{n} {level}" for level, n in value.counts().items() if n)
        return (f"{value.status}" + (f" ({counts})" if counts else "")
                + f"; {value.packages} packages read")
    if not isinstance(value, Result):
        return str(value)
    text = value.details.get("summary")
    line = text.splitlines()[0] if isinstance(text, str) and text.strip() else value.summary()
    counts = value.details.get("counts")
    if isinstance(counts, dict) and counts:
        line += "; " + ", ".join(f"{n} {what}" for what, n in counts.items())
    plan = value.details.get("plan")
    if value.dry_run and isinstance(plan, dict) and isinstance(plan.get("changes"), list):
        line += f"; the plan has {len(plan['changes'])} change(s), none made"
    return line


def summarize(steps: dict[str, Any]) -> None:
    """Show the run at a glance after its JSON record: one line per step (``{"copy": result,
    "push": None}``), as text, a Markdown table and an HTML table. Displayed, not printed, so
    the result cell's printed text stays the JSON that CI reads, and the executed notebook
    ends with something a person reads rather than a dump."""
    from IPython.display import display

    lines = [(str(step), _outcome(value)) for step, value in steps.items()]
    text = "\n".join(f"{step}: {outcome}" for step, outcome in lines)
    cells = [(step, outcome.replace("|", "\\|")) for step, outcome in lines]  # Markdown's |
    table = "| step | outcome |\n|---|---|\n" + "\n".join(
        f"| {step} | {outcome} |" for step, outcome in cells)
    # HTML too: a notebook renderer without Markdown tables (nbviewer's plain view, papermill
    # reports) still shows rows and columns.
    html = pd.DataFrame(lines, columns=["step", "outcome"]).to_html(index=False)
    display({"text/plain": text, "text/markdown": table, "text/html": html}, raw=True)


def usage_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``usage()`` as a person reads it: sizes in kB/MB, and an empty limit, share or status
    shown as "—" rather than pandas' ``<NA>`` or ``None``."""
    from .widgets.tables import human_size

    def dash(values: Any, show: Callable[[Any], str]) -> list[str]:
        return [show(v) if v is not None and not pd.isna(v) and v != "" else "—"
                for v in values]

    return pd.DataFrame({
        "level": frame["level"], "namespace": frame["namespace"],
        "repository": dash(frame["repository"], str),
        "images": frame["images"], "tags": frame["tags"],
        "size": [human_size(b) for b in frame["bytes"]],
        "limit": dash(frame["limit"], human_size),
        "used": dash(frame["percent"], lambda p: f"{float(p):.1f} %"),
        "status": dash(frame["status"], str),
    })
