"""With ``CI=true`` a skip for a missing real part (engine, browser, root) is a failure.

Runs a throwaway suite in a subprocess whose conftest takes the hook from the real
``tests/conftest.py`` (and ``notebooks/conftest.py``), so what is checked is the wiring CI uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SUITE = '''
import pytest

def test_engine():
    pytest.skip("no Docker engine: the socket is gone")

@pytest.mark.skipif(True, reason="browser tests: /usr/bin/chromium is missing")
def test_browser():
    pass

@pytest.mark.skipif(True, reason="needs root and setpriv to act as an unprivileged user")
def test_root():
    pass

def test_other_skip():
    pytest.skip("nothing to do with a real part")
'''

# As tests/test_sync_dask.py does without distributed: a skip in a module-scoped fixture,
# at setup (a skip at collection could not be turned into a failure).
DASK_SUITE = '''
import pytest

@pytest.fixture(scope="module", autouse=True)
def _needs_the_dask_extra():
    pytest.skip("needs the dask extra: distributed is not installed")

def test_sync_on_a_dask_cluster():
    pass
'''


def run_suite(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """The suite twice, under each real conftest's hook, in one pytest run."""
    for conftest in ("tests.conftest", "notebooks.conftest"):
        folder = tmp_path / ("under_" + conftest.split(".")[0])
        folder.mkdir()
        (folder / "conftest.py").write_text(
            f"from {conftest} import pytest_runtest_makereport  # noqa: F401\n")
        (folder / f"test_{folder.name}.py").write_text(SUITE)
        (folder / f"test_{folder.name}_dask.py").write_text(DASK_SUITE)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)


def test_ci_turns_missing_real_parts_into_failures(tmp_path):
    done = run_suite(tmp_path, "true")
    # A skip in the test body becomes a failure, a skipif at setup an error: both fail the run.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 failed, 2 skipped, 6 errors" in done.stdout
    summary = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert len(summary) == 8 and all("CI=true requires every real part" in x for x in summary)
    assert sum("needs the dask extra" in x for x in summary) == 2
    assert done.stdout.count("nothing to do with a real part") == 2  # still a skip


def test_without_ci_they_stay_skips(tmp_path):
    done = run_suite(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 skipped" in done.stdout
