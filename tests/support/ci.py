"""In CI every real part is required: a skip for a missing engine, browser or root fails there.

Locally a missing Docker engine, Chromium, root or the dask extra (``distributed``) turns the
tests that need them into skips with the reason. With ``CI=true`` (``.ci/run`` sets it) the same skips become failures, so a
machine that lost its engine cannot keep the suite green by skipping. The skips this concerns
are recognised by their reasons, which start with one of ``REAL_PARTS``.
"""

from __future__ import annotations

import os

import pytest

REAL_PARTS = ("no Docker engine", "needs a Docker engine", "browser tests:", "needs root",
              "needs the dask extra")


def required() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def fail_missing_parts(report: pytest.TestReport) -> None:
    """Turn a skip for a missing real part into a failure when CI requires every part."""
    if not (report.skipped and required()) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if reason.startswith(REAL_PARTS):
        report.outcome = "failed"
        report.longrepr = (f"CI=true requires every real part, but this test was skipped: "
                           f"{reason}")
