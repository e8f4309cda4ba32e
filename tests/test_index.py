"""The local index behind images(): current by default, max_age served without a request,
safe with two processes, rebuilt when corrupt; accessories shown with their image; a
registry that refuses the catalog listed with ``repositories``.

Every registry change is made with the stack's raw HTTP client (the independent oracle), and
every expected value comes from what it reports, never from the package.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from registry_widgets import paths
from registry_widgets.errors import Denied
from registry_widgets.operations.core import clients
from registry_widgets.operations.core import index
from registry_widgets.operations.core.index import Index
from registry_widgets.operations.images.inventory import images, indexed, parse_repositories
from tests.support import RawClient, push_image


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def _rows(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    return dict(zip(zip(table["repository"], table["tag"]), table["digest"]))


def _requests(host: str) -> int:
    return clients.client_for(host).transport.stats["requests"]


def test_a_retag_a_delete_and_a_new_tag_are_all_seen_by_a_current_listing(registry_factory):
    reg = registry_factory()
    one = push_image(reg, "ns/app", "1.0", layers=[b"one"])
    two = push_image(reg, "ns/app", "2.0", layers=[b"two"])
    old = push_image(reg, "ns/app", "old", layers=[b"old"])
    assert _rows(images(reg.host)) == {("ns/app", "1.0"): one.digest,
                                       ("ns/app", "2.0"): two.digest,
                                       ("ns/app", "old"): old.digest}

    # Between the listings: 1.0 now points at two's bytes, old is deleted, 3.0 is new.
    raw = RawClient(reg)
    raw.request("PUT", "/v2/ns/app/manifests/1.0", data=two.manifest, expect=(201,),
                headers={"Content-Type": two.media_type})
    raw.request("DELETE", f"/v2/ns/app/manifests/{old.digest}", expect=(202,))
    three = push_image(reg, "ns/app", "3.0", layers=[b"three"])

    current = images(reg.host)
    assert _rows(current) == {("ns/app", "1.0"): two.digest, ("ns/app", "2.0"): two.digest,
                              ("ns/app", "3.0"): three.digest}
    assert current.attrs["from_index"] == 0
    # A max_age listing right after sees the same, from the index alone.
    again = images(reg.host, max_age=3600)
    assert _rows(again) == _rows(current) and again.attrs["requests"] == 0


def test_max_age_serves_from_the_index_without_a_request(registry_factory):
    reg = registry_factory()
    pushed = [push_image(reg, f"ns/app{i}", "1.0", layers=[b"x%d" % i]) for i in range(3)]
    first = images(reg.host)
    listed_at = first.attrs["as_of"]
    reg.close()  # nothing answers any more: any request would fail the listing

    clients.reset()
    served = images(reg.host, max_age=3600)

    assert _requests(reg.host) == 0 and served.attrs["requests"] == 0
    assert served.attrs["from_index"] == len(served) == 3
    assert served.attrs["as_of"] == listed_at and served.attrs["max_age"] == 3600
    assert sorted(served["digest"]) == sorted(p.digest for p in pushed)
    pd.testing.assert_frame_equal(served, first)
    # max_age=0 (or the default) wants a current answer: that needs the registry.
    with pytest.raises(Exception, match="connection refused"):
        images(reg.host, max_age=0)


def test_max_age_confirms_only_what_is_older(registry_factory, monkeypatch):
    reg = registry_factory()
    push_image(reg, "ns/a", "1", layers=[b"a"])
    push_image(reg, "ns/b", "1", layers=[b"b"])
    images(reg.host)
    # Age the rows of ns/a by a day in the index: only they need asking again.
    with sqlite3.connect(paths.index_file()) as db:
        db.execute("UPDATE tags SET verified = verified - 86400 WHERE repository = 'ns/a'")
        db.execute("UPDATE repositories SET verified = verified - 86400 "
                   "WHERE repository = 'ns/a'")
    clients.reset()
    clients.client_for(reg.host).ping()  # the scheme is learned before the listing
    table = images(reg.host, max_age=3600)
    assert table.attrs["from_index"] == 1  # ns/b
    # No catalog (fresh), ns/a's tag list and one HEAD for ns/a:1.
    assert table.attrs["requests"] == 2
    assert table.attrs["as_of"] > pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1)


@pytest.mark.parametrize("bad", [-1, "3600", True, float("nan")])
def test_max_age_must_be_seconds(bad):
    with pytest.raises(ValueError, match="max_age"):
        images("127.0.0.1:9", max_age=bad)


def test_two_processes_listing_at_once_share_one_index(registry_factory, tmp_path):
    reg = registry_factory()
    pushed = {f"ns/app{i}": push_image(reg, f"ns/app{i}", "1.0", layers=[b"p%d" % i]).digest
              for i in range(8)}
    script = textwrap.dedent(f"""
        import json, registry_widgets as rw
        out = []
        for _ in range(3):
            t = rw.images({reg.host!r})
            out.append(sorted(zip(t["repository"], t["digest"])))
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "could not update the index" not in err and "damaged" not in err, err
        for listing in json.loads(out):
            assert listing == [list(pair) for pair in sorted(pushed.items())]
    # What both wrote is one consistent index: served from it alone, it is the registry.
    served = images(reg.host, max_age=3600)
    assert served.attrs["requests"] == 0
    assert dict(zip(served["repository"], served["digest"])) == pushed


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other schema"])
def test_a_corrupt_index_is_rebuilt_not_fatal(registry_factory, damage):
    reg = registry_factory()
    image = push_image(reg, "ns/app", "1.0", layers=[b"app"])
    first = images(reg.host)
    index.close_shared()  # as a new kernel finds the file
    path = paths.index_file()
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        data = path.read_bytes()
        with sqlite3.connect(path) as db:  # fold the WAL in, so the file holds it all
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 3] + b"\xff" * 512)
    else:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version=999")
    for extra in ("-wal", "-shm"):
        if damage == "garbage" and os.path.exists(f"{path}{extra}"):
            os.unlink(f"{path}{extra}")

    clients.reset()
    again = images(reg.host)

    assert list(again["digest"]) == [image.digest]
    pd.testing.assert_frame_equal(again.drop(columns=[]), first)
    assert any(p.name.startswith("index.sqlite3.corrupt-") for p in path.parent.iterdir())
    with Index() as store:  # the rebuilt file works again
        assert set(store.details([image.digest])) == {image.digest}


def test_accessory_tags_are_shown_with_their_image(registry_factory):
    reg = registry_factory()
    app = push_image(reg, "ns/app", "1.0", layers=[b"app"])
    hex_ = app.digest.split(":")[1]
    sig = push_image(reg, "ns/app", f"sha256-{hex_}.sig", layers=[b"a signature"])
    push_image(reg, "ns/app", f"sha256-{hex_}.sbom", layers=[b"an sbom"])
    orphan = "sha256-" + "0" * 64 + ".att"
    push_image(reg, "ns/app", orphan, layers=[b"an attestation of nothing here"])

    table = images(reg.host)

    assert list(table["tag"]) == ["1.0"]
    assert table["accessories"].iloc[0] == {"signature": f"sha256-{hex_}.sig",
                                            "sbom": f"sha256-{hex_}.sbom"}
    assert table.attrs["accessories_without_image"] == [f"{reg.host}/ns/app:{orphan}"]
    assert sig.digest not in set(table["digest"])


def test_repositories_typed_or_pasted():
    assert parse_repositories("ns/b, ns/a\nsolo  ns/a") == ["ns/a", "ns/b", "solo"]
    assert parse_repositories(["ns/a", " ns/b "]) == ["ns/a", "ns/b"]
    with pytest.raises(Exception, match="NS/A|ns/A|invalid|Invalid"):
        parse_repositories("ns/A")


def test_a_registry_refusing_the_catalog_is_listed_with_repositories(token_registry):
    reg = token_registry
    app = push_image(reg, "team/app", "1.0", layers=[b"team app"])
    clients.configure(reg.host, credentials=("bob", reg.token_server.users["bob"]))

    with pytest.raises(Denied) as refused:
        images(reg.host)
    message = str(refused.value)
    assert "does not list its repositories" in message and "repositories=" in message
    assert "without the right to read it" in message  # bob is logged in (a 403 in effect)
    assert reg.token_server.users["bob"] not in message

    table = images(reg.host, repositories="team/app")
    assert _rows(table) == {("team/app", "1.0"): app.digest}


def test_indexed_is_the_index_alone_whatever_its_age(registry_factory):
    reg = registry_factory()
    assert indexed(reg.host) is None  # never listed
    app = push_image(reg, "ns/app", "1.0", layers=[b"indexed"])
    images(reg.host)
    with sqlite3.connect(paths.index_file()) as db:  # a week old
        db.execute("UPDATE tags SET verified = verified - 604800")
    reg.close()
    clients.reset()
    table = indexed(reg.host)
    assert list(table["digest"]) == [app.digest] and table.attrs["requests"] == 0
    assert table.attrs["as_of"] < pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=6)


def settle(panel):
    """Wait for the panel's worker thread; its error stays in ``last_error``."""
    try:
        panel.wait(120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the test reads last_error and the message
        pass
    return panel


def test_the_widgets_list_a_catalog_refusing_registry_with_typed_repositories(token_registry):
    from registry_widgets.operations.images.namespaces import remembered_repositories
    from registry_widgets.widgets import ImageTable, NamespaceTable

    reg = token_registry
    app = push_image(reg, "team/app", "1.0", layers=[b"widget app"])
    db = push_image(reg, "team/db", "2.0", layers=[b"widget db"])
    clients.configure(reg.host, credentials=("bob", reg.token_server.users["bob"]))

    table = settle(ImageTable(reg.host))
    assert table.frame.empty and table.repositories_box.layout.display != "none"
    assert "does not list its repositories" in table.message.text
    assert "Repositories" in table.message.text or "repositories" in table.message.text
    spaces = settle(NamespaceTable(reg.host))
    assert "does not list its repositories" in spaces.message.text

    table.repositories_text.value = "team/app\nteam/db"  # pasted, one a line
    table.repositories_button.click()
    settle(table)
    assert table.last_error is None, table.message.text
    assert dict(zip(table.frame["tag"], table.frame["digest"])) == {"1.0": app.digest,
                                                                  "2.0": db.digest}
    assert remembered_repositories(reg.host) == ["team/app", "team/db"]
    assert "as of" in table.as_of.value

    # Remembered: a new table and the namespace table list them without being told.
    again = settle(ImageTable(reg.host, "team"))
    assert len(again.frame) == 2 and again.last_error is None
    spaces.refresh_button.click()
    settle(spaces)
    assert spaces.last_error is None, spaces.message.text
    assert spaces.frame.set_index("namespace").loc["team", "tags"] == 2
    assert reg.token_server.users["bob"] not in repr(table.get_state())


def test_the_image_table_shows_the_index_at_once_without_the_registry(registry_factory):
    from registry_widgets.widgets import ImageTable

    reg = registry_factory()
    one = push_image(reg, "ns/app", "1.0", layers=[b"bg one"])
    images(reg.host)
    reg.close()  # only the index can answer now

    table = ImageTable(reg.host, "ns", background=True)
    assert list(table.frame["digest"]) == [one.digest]  # at once, before any answer
    assert "from the local index; checking the registry" in table.as_of.value
    with pytest.raises(Exception):
        table.wait(60)
    assert "connection refused" in table.message.text  # the revalidation says why it failed
    # The dashboard's rule: rows of a registry that cannot be reached now are not acted on.
    assert table.frame.empty and table.rows_registry is None


def test_the_image_table_revalidates_in_place_keeping_the_selection(registry_factory):
    from registry_widgets.widgets import ImageTable

    reg = registry_factory()
    one = push_image(reg, "ns/app", "1.0", layers=[b"bg one"])
    table = ImageTable(reg.host, "ns", background=True)
    table.wait(60)
    table.select(one.reference)
    two = push_image(reg, "ns/app", "2.0", layers=[b"bg two"])

    table.refresh_button.click()
    table.wait(60)

    assert table.last_error is None, table.message.text
    assert dict(zip(table.frame["tag"], table.frame["digest"])) == {"1.0": one.digest,
                                                                  "2.0": two.digest}
    assert table.selected_references == [one.reference]
    assert "checking" not in table.as_of.value and "as of" in table.as_of.value


def test_a_cold_listing_shows_its_first_rows_before_the_rest(registry_factory):
    from registry_widgets.operations.images.inventory import FIRST_BATCH

    reg = registry_factory()
    for i in range(FIRST_BATCH + 3):
        push_image(reg, f"ns/app{i:02d}", "1.0", layers=[b"cold %d" % i])
    partial = []
    table = images(reg.host, on_partial=partial.append)
    assert len(partial) == 1 and len(partial[0]) == FIRST_BATCH
    assert list(partial[0]["reference"]) == list(table["reference"][:FIRST_BATCH])
    assert len(table) == FIRST_BATCH + 3


def test_notebook_06_lists_a_catalog_refusing_registry_with_repositories(token_registry,
                                                                         tmp_path):
    import base64

    import nbformat

    from registry_widgets.runner import run_notebook

    reg = token_registry
    app = push_image(reg, "team/app", "1.0", layers=[b"notebook app"])
    password = reg.token_server.users["bob"]
    auth = base64.b64encode(f"bob:{password}".encode()).decode()  # as `docker login` writes
    (tmp_path / "docker-config" / "config.json").write_text(
        json.dumps({"auths": {reg.host: {"auth": auth}}}))

    out = run_notebook("06_namespaces_and_images",
                       {"registry": reg.host, "namespace": "team", "repositories": "team/app",
                        "interactive": False}, output=tmp_path / "06.ipynb")
    executed = nbformat.read(out, as_version=4)
    last = executed.cells[-1]
    record = json.loads("".join(o.get("text", "") for o in last.outputs
                                if o.output_type == "stream"))
    assert record["repositories"] == ["team/app"] and record["tags"] == 1
    assert record["namespaces"] == ["team"]
    assert app.digest[7:19] in nbformat.writes(executed)  # the short digest of the row
    assert password not in nbformat.writes(executed)


HOLD_LOCK = textwrap.dedent("""
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=DELETE")  # a rollback journal: its lock blocks even readers
    db.execute("BEGIN EXCLUSIVE")
    db.execute("SELECT count(*) FROM tags").fetchall()
    print("locked", flush=True)
    sys.stdin.readline()                      # hold the lock until told
    db.execute("INSERT OR REPLACE INTO catalogs VALUES ('other.example', 1.0)")
    db.execute("COMMIT")
    print("committed", flush=True)
""")


def test_an_index_locked_by_another_process_is_left_alone_and_listing_goes_on(registry_factory):
    reg = registry_factory()
    one = push_image(reg, "ns/app", "1.0", layers=[b"locked-one"])
    assert _rows(images(reg.host)) == {("ns/app", "1.0"): one.digest}
    index.close_shared()
    path = paths.index_file()

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        # The listing goes on without the index: current rows, straight from the registry.
        two = push_image(reg, "ns/app", "2.0", layers=[b"locked-two"])
        assert _rows(images(reg.host)) == {("ns/app", "1.0"): one.digest,
                                           ("ns/app", "2.0"): two.digest}
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed", "the other process's write failed"
    finally:
        holder.kill() if holder.poll() is None else None
        holder.wait()
    # Healthy and in place: never moved aside as corrupt, the other process's row is there.
    assert [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name] == []
    index.close_shared()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT verified FROM catalogs WHERE registry='other.example'"
                          ).fetchall() == [(1.0,)]


def test_as_of_is_never_newer_than_the_catalog_it_served(registry_factory):
    reg = registry_factory()
    push_image(reg, "ns/app", "1.0", layers=[b"asof-one"])
    first = images(reg.host)                       # the catalog is read here, once
    time.sleep(1.1)                                # so that the two readings differ
    push_image(reg, "ns/new", "1.0", layers=[b"asof-new"])  # a repository that catalog lacks
    rows_only = images(reg.host, repositories=["ns/app"])   # rows confirmed again, not the catalog
    cached = images(reg.host, max_age=3600)
    assert ("ns/new", "1.0") not in _rows(cached)
    # Its rows are newer, but its catalog is as old as the first listing: the label says so.
    assert cached.attrs["as_of"] < rows_only.attrs["as_of"]
    assert cached.attrs["as_of"] <= first.attrs["as_of"] + pd.Timedelta(milliseconds=500)
