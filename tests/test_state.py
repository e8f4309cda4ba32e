"""The state store (saved policies, declared namespaces, remembered repositories): one SQLite
file, one transaction per change, so two processes saving at once lose nothing; settings an
older version kept in JSON files are imported once. Checked by reading the database file with
sqlite3, not through the package."""

from __future__ import annotations

import json
import sqlite3
import textwrap

from registry_widgets import paths
from registry_widgets.operations.core import state
from registry_widgets.operations.images.namespaces import declared_namespaces
from tests.support.together import run_together

WRITER = textwrap.dedent("""
    import sys
    from registry_widgets.operations.core import policies
    from registry_widgets.operations.images.namespaces import add_namespace
    me, count = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()  # both start together
    for i in range(count):
        add_namespace("127.0.0.1:5999", f"{me}-{i}")
        policies.put("127.0.0.1:5999", f"{me}-{i}", "limit", i + 1)
""")


def saved(name: str) -> dict:
    with sqlite3.connect(paths.state_db()) as db:
        row = db.execute("SELECT value FROM documents WHERE name=?", (name,)).fetchone()
    return json.loads(row[0]) if row else {}


def test_two_processes_saving_at_once_lose_nothing():
    count = 40
    run_together(WRITER, [(me, str(count)) for me in ("a", "b")])
    names = {f"{me}-{i}" for me in ("a", "b") for i in range(count)}
    assert set(saved("namespaces")["127.0.0.1:5999"]) == names
    limits = {key.split("/", 1)[1]: entry["limit"] for key, entry in saved("policies").items()}
    assert limits == {f"{me}-{i}": i + 1 for me in ("a", "b") for i in range(count)}
    assert set(declared_namespaces("localhost:5999")) == names


def test_an_older_versions_json_file_is_imported_once():
    legacy = paths.namespaces_file()
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(json.dumps({"LOCALHOST:5998": ["old"]}))
    assert declared_namespaces("127.0.0.1:5998") == ["old"]
    assert not legacy.exists() and legacy.with_name("namespaces.json.imported").exists()
    assert saved("namespaces") == {"LOCALHOST:5998": ["old"]}
    # A file written there again later is not read: the database is the one copy.
    legacy.write_text(json.dumps({"127.0.0.1:5998": ["stale"]}))
    assert declared_namespaces("127.0.0.1:5998") == ["old"]


def test_a_failed_change_saves_nothing():
    state.update("policies", lambda value: {**value, "x/y": {"limit": 1}})

    def broken(value: dict) -> dict:
        value["x/z"] = {"limit": 2}
        raise RuntimeError("the change failed halfway")

    try:
        state.update("policies", broken)
    except RuntimeError:
        pass
    assert saved("policies") == {"x/y": {"limit": 1}}


EXEMPTER = textwrap.dedent("""
    import sys
    from registry_widgets import add_exemption
    me, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        add_exemption(path, f"CVE-2024-{me}{i:03d}", reason="accepted")
""")


def test_two_processes_adding_exemptions_to_one_file_lose_nothing(tmp_path):
    path = tmp_path / "team" / "exemptions.json"
    count = 30
    run_together(EXEMPTER, [(me, str(count), str(path)) for me in ("1", "2")])
    issues = {e["issue"] for e in json.loads(path.read_text())["exemptions"]}
    assert issues == {f"CVE-2024-{me}{i:03d}" for me in ("1", "2") for i in range(count)}
