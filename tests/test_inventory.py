"""images() and namespaces(): tables that agree with what was pushed, computed by hand.

One registry is seeded once for the module through ``tests.support`` (raw HTTP, the
independent oracle): four namespaces, 31 tags, layers shared across images and namespaces,
co-tags, a Docker-typed image and a two-platform OCI index. Every expected value below is
computed from what ``push_image``/``push_index`` report, never from the package. Each test
gets its own empty detail cache (conftest's ``state_dir`` sets ``XDG_CACHE_HOME``).
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sqlite3
import random
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pytest
import requests

from registry_widgets import paths
from registry_widgets.errors import BadReference
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.core.index import Index
from registry_widgets.operations.images.inventory import COLUMNS, images
from registry_widgets.operations.images.namespaces import (add_namespace, declared_namespaces,
                                                    forget_namespace, namespaces)
from tests.support import RawClient, list_tags, push_image, push_index, start_registry
from tests.support.oracle import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

UTC = dt.timezone.utc


@dataclass
class Expected:
    """One expected row, from what was pushed."""
    repository: str
    tag: str
    digest: str
    media_type: str
    platforms: list[str]
    size_per_platform: dict[str, int]
    created: dt.datetime
    labels: dict[str, str]
    blobs: dict[str, int] = field(default_factory=dict)  # digest -> size, config + layers

    @property
    def namespace(self) -> str:
        return self.repository.split("/")[0] if "/" in self.repository else ""

    @property
    def size(self) -> int:
        return sum(self.size_per_platform.values())


@dataclass
class Seeded:
    host: str
    rows: list[Expected]

    def by_ref(self) -> dict[tuple[str, str], Expected]:
        return {(e.repository, e.tag): e for e in self.rows}


def _image_row(image, *, created: dt.datetime, labels: dict[str, str]) -> Expected:
    platform = "/".join(image.platform)
    blobs = {b.digest: b.size for b in (image.config, *image.layers)}
    return Expected(image.repository, image.tag, image.digest, image.media_type, [platform],
                    {platform: sum(blobs.values())}, created, labels, blobs)


def _seed(reg) -> Seeded:
    rng = random.Random("inventory")
    raw = RawClient(reg)
    base = rng.randbytes(700)  # shared by every alpha and beta image
    tools = rng.randbytes(300)  # shared by alpha/web and alpha/api
    rows: list[Expected] = []

    def push(repository, tag, layers, *, created, labels=None, **kwargs):
        image = push_image(reg, repository, tag, layers=layers, created=created,
                           labels=labels or {}, client=raw, **kwargs)
        row = _image_row(image, created=created, labels=labels or {})
        if tag is not None:
            rows.append(row)
        return image, row

    def web(i: int, tag: str, own: bytes):
        return push("alpha/web", tag, [base, tools, own],
                    created=dt.datetime(2024, 1, 1 + i, 12, 0, tzinfo=UTC),
                    labels={"org.opencontainers.image.version": f"1.{i}", "team": "alpha"})

    for i in range(10):  # alpha/web 1.0 .. 1.9
        own = rng.randbytes(50 + i)
        web(i, f"1.{i}", own)
    web(9, "latest", own)  # a co-tag: the same bytes again, so the same digest as 1.9
    for i in range(5):
        push("alpha/api", f"v{i}", [base, tools, rng.randbytes(40 + i)],
             created=dt.datetime(2024, 2, 1 + i, tzinfo=UTC))
    for i in range(12):  # enough tags for six pages of two
        push("beta/db", f"r{i:02d}", [base, rng.randbytes(30 + i)],
             created=dt.datetime(2023, 6, 1 + i, 8, 30, tzinfo=UTC), labels={"db": "yes"})
    push("gamma/legacy", "old", [rng.randbytes(90)], media_type="docker",
         created="2020-05-05T05:05:05.123456789Z")
    rows[-1].created = dt.datetime(2020, 5, 5, 5, 5, 5, 123456, tzinfo=UTC)

    amd64, amd_row = push("gamma/multi", None, [rng.randbytes(120)],
                          created=dt.datetime(2024, 3, 1, tzinfo=UTC),
                          labels={"app": "multi", "arch": "amd64"})
    arm64, arm_row = push("gamma/multi", None, [rng.randbytes(140), rng.randbytes(20)],
                          created=dt.datetime(2024, 3, 2, tzinfo=UTC),
                          labels={"app": "multi", "arch": "arm64"}, platform=("linux", "arm64", "v8"))
    index_digest = push_index(reg, "gamma/multi", "1.0", [amd64, arm64], client=raw)
    rows.append(Expected(
        "gamma/multi", "1.0", index_digest, OCI_INDEX, ["linux/amd64", "linux/arm64/v8"],
        {"linux/amd64": amd_row.size, "linux/arm64/v8": arm_row.size},
        created=arm_row.created,  # the newer platform
        labels={"app": "multi"},  # what both platforms agree on
        blobs={**amd_row.blobs, **arm_row.blobs}))
    push("solo", "latest", [rng.randbytes(10)], created=dt.datetime(2022, 2, 2, tzinfo=UTC))
    raw.session.close()
    return Seeded(reg.host, rows)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A fresh registry of its own (as ``registry_factory`` starts them), seeded once: seeding
    is most of this module's time, and no test here changes it."""
    reg = start_registry("plain", state_dir=tmp_path_factory.mktemp("inventory-registry"),
                         name="inventory")
    try:
        yield _seed(reg)
    finally:
        reg.close()


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def requests_made(monkeypatch):
    """``requests_made(host)`` starts recording (method, path) of every request the package
    sends to ``host`` and returns the list it fills."""
    def start(host: str) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        transport = clients.client_for(host).transport
        send = transport._raw  # where both request paths start

        def recording(method, url, *args, **kwargs):
            seen.append((method.upper(), url.split(host, 1)[-1]))
            return send(method, url, *args, **kwargs)

        monkeypatch.setattr(transport, "_raw", recording)
        return seen
    return start


def _ns_expected(rows: list[Expected]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for row in rows:
        group = out.setdefault(row.namespace, {"repositories": set(), "tags": 0, "blobs": {},
                                               "last": row.created})
        group["repositories"].add(row.repository)
        group["tags"] += 1
        group["blobs"].update(row.blobs)  # a dict: a blob shared by images counts once
        group["last"] = max(group["last"], row.created)
    return out


# -- the image table -----------------------------------------------------------------------

def test_images_match_what_was_pushed(seeded):
    table = images(seeded.host)

    assert list(table.columns) == COLUMNS
    expected = seeded.by_ref()
    assert len(table) == len(expected) == 31
    assert set(zip(table["repository"], table["tag"])) == set(expected)
    for row in table.itertuples():
        want = expected[(row.repository, row.tag)]
        assert row.namespace == want.namespace
        assert row.digest == want.digest
        assert row.media_type == want.media_type
        assert row.platforms == want.platforms
        assert row.size == want.size
        assert row.size_per_platform == want.size_per_platform
        assert row.created == pd.Timestamp(want.created)
        assert row.labels == want.labels
        assert row.reference == f"{seeded.host}/{row.repository}:{row.tag}"
    assert str(table["created"].dtype).endswith(", UTC]")
    assert table["size"].dtype == "int64"


def test_images_sorted_by_namespace_repository_tag(seeded):
    table = images(seeded.host)
    keys = list(zip(table["namespace"], table["repository"], table["tag"]))
    assert keys == sorted(keys)
    assert table["namespace"].iloc[0] == ""  # "solo": a one-segment repository
    assert table.loc[table["repository"] == "solo", "namespace"].tolist() == [""]


def test_co_tags_share_a_digest_and_media_types_are_kept(seeded):
    table = images(seeded.host).set_index(["repository", "tag"])
    assert table.loc[("alpha/web", "latest"), "digest"] == table.loc[("alpha/web", "1.9"), "digest"]
    assert table.loc[("gamma/legacy", "old"), "media_type"] == DOCKER_MANIFEST
    assert table.loc[("alpha/web", "1.0"), "media_type"] == OCI_MANIFEST
    multi = table.loc[("gamma/multi", "1.0")]
    assert multi["media_type"] == OCI_INDEX
    assert multi["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    assert multi["size"] == sum(multi["size_per_platform"].values())


def test_namespace_filter(seeded):
    table = images(seeded.host, "alpha")
    assert set(table["namespace"]) == {"alpha"}
    assert len(table) == sum(1 for e in seeded.rows if e.namespace == "alpha") == 16
    everything = images(seeded.host)
    alpha = everything[everything["namespace"] == "alpha"].reset_index(drop=True)
    pd.testing.assert_frame_equal(table.drop(columns=["created"]), alpha.drop(columns=["created"]))
    assert images(seeded.host, "nobody").empty
    with pytest.raises(BadReference):
        images(seeded.host, "Alpha")


def test_repositories_instead_of_the_catalog(seeded, requests_made):
    seen = requests_made(seeded.host)
    table = images(seeded.host, repositories=["beta/db", "solo"])
    assert set(table["repository"]) == {"beta/db", "solo"}
    assert len(table) == 13
    assert not any("_catalog" in path for _, path in seen)


class _PagingProxy(http.server.ThreadingHTTPServer):
    """Forwards everything to a registry, but pages tag lists as the OCI spec describes
    (``n``, ``last``, ``Link: <...>; rel="next"``): distribution 2.8 ignores ``n`` on tag
    lists (only the catalog pages), so real tag pages have to be injected."""

    daemon_threads = True

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.session = requests.Session()
        self.session.trust_env = False
        super().__init__(("127.0.0.1", 0), _PagingHandler)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _PagingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _PagingProxy

    def log_message(self, *args):
        pass

    def _forward(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        paged = self.command == "GET" and url.path.endswith("/tags/list") and "n" in query
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization")}
        upstream = self.server.session.request(
            self.command, self.server.upstream + (url.path if paged else self.path),
            headers=headers, timeout=30)
        body, extra = upstream.content, {}
        if paged and upstream.status_code == 200:
            listing = upstream.json()
            tags, n = sorted(listing["tags"] or []), int(query["n"][0])
            if "last" in query:
                tags = [t for t in tags if t > query["last"][0]]
            page = tags[:n]
            if len(tags) > n:
                extra["Link"] = f'<{url.path}?n={n}&last={page[-1]}>; rel="next"'
            body = json.dumps({"name": listing["name"], "tags": page}).encode()
        self.send_response(upstream.status_code)
        for key, value in upstream.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                   "content-encoding") and not (paged and key.lower() == "link"):
                self.send_header(key, value)
        for key, value in extra.items():
            self.send_header(key, value)
        length = upstream.headers.get("Content-Length", "0") if self.command == "HEAD" \
            else str(len(body))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _forward


@pytest.fixture
def paging_proxy(seeded):
    proxy = _PagingProxy(f"http://{seeded.host}")
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    proxy.session.close()


def test_pagination_in_pages_of_two(seeded, paging_proxy, requests_made):
    seen = requests_made(paging_proxy.host)
    table = images(paging_proxy.host, page_size=2)

    catalog_pages = [p for m, p in seen if m == "GET" and p.startswith("/v2/_catalog")]
    db_pages = [p for m, p in seen if m == "GET" and p.startswith("/v2/beta/db/tags/list")]
    assert len(catalog_pages) >= 3  # 6 repositories: the registry's own pages
    assert len(db_pages) == 6  # 12 tags: the proxy's pages
    assert all("n=2" in p for p in catalog_pages + db_pages)
    assert len(table) == 31
    got = set(zip(table["repository"], table["tag"], table["digest"]))
    assert got == {(e.repository, e.tag, e.digest) for e in seeded.rows}


def test_second_listing_costs_only_lists_and_heads(seeded, requests_made):
    cold = images(seeded.host)
    with Index() as store:
        # Every distinct manifest is described: 29 tagged digests (one co-tag) + 2 index children.
        children = [c["digest"] for c in store.details(cold["digest"]).values()
                    for c in c["children"]]
        assert len(set(cold["digest"])) == 30 and len(children) == 2
        assert set(store.details([*cold["digest"], *children])) == {*cold["digest"], *children}

    stats = clients.client_for(seeded.host).transport.stats
    before = stats["requests"]
    seen = requests_made(seeded.host)
    warm = images(seeded.host)

    assert stats["requests"] - before == len(seen) == warm.attrs["requests"]
    kinds = Counter((m, "tags" if "/tags/list" in p else "catalog" if "_catalog" in p else
                     "manifests" if "/manifests/" in p else "blobs" if "/blobs/" in p else p)
                    for m, p in seen)
    assert kinds[("HEAD", "manifests")] == len(warm) == 31
    assert kinds[("GET", "manifests")] == 0 and kinds[("GET", "blobs")] == 0
    assert set(kinds) == {("GET", "catalog"), ("GET", "tags"), ("HEAD", "manifests")}
    assert warm.attrs["from_index"] == 0
    pd.testing.assert_frame_equal(cold, warm)


def test_progress_reports_each_phase(seeded):
    events = []
    images(seeded.host, "beta", progress=events.append)
    phases = {e.status for e in events}
    assert phases == {"tag lists", "manifests", "details"}
    last = {e.status: e for e in events}
    assert last["manifests"].current == last["manifests"].total == 12
    assert all(e.action == "images" for e in events)


# -- the namespace table -------------------------------------------------------------------

def test_namespaces_count_shared_blobs_once(seeded):
    table = namespaces(seeded.host).set_index("namespace")
    expected = _ns_expected(seeded.rows)

    assert list(table.reset_index().columns) == ["namespace", "repositories", "tags", "size",
                                                 "last_pushed", "declared"]
    assert sorted(table.index) == sorted(expected) == ["", "alpha", "beta", "gamma"]
    for name, want in expected.items():
        row = table.loc[name]
        assert row["repositories"] == len(want["repositories"])
        assert row["tags"] == want["tags"]
        assert row["size"] == sum(want["blobs"].values())
        assert row["last_pushed"] == pd.Timestamp(want["last"])
        assert not row["declared"]
    # The shared layers are what makes the namespace smaller than its images added up.
    alpha_images = images(seeded.host, "alpha")
    assert table.loc["alpha", "size"] < alpha_images["size"].sum()


def test_add_namespace_shows_an_empty_declared_namespace(seeded):
    result = add_namespace(seeded.host, "delta")
    assert result.changed and result.action == "add_namespace"
    assert result.details["file"] == str(paths.state_db())
    with sqlite3.connect(paths.state_db()) as db:  # what is on disk, read without the package
        saved = db.execute("SELECT value FROM documents WHERE name='namespaces'").fetchone()[0]
    assert json.loads(saved) == {seeded.host: ["delta"]}
    assert declared_namespaces(seeded.host) == ["delta"]
    assert not add_namespace(seeded.host, "delta").changed
    add_namespace(seeded.host, "alpha")  # declared and already in use

    table = namespaces(seeded.host).set_index("namespace")
    delta = table.loc["delta"]
    assert (delta["repositories"], delta["tags"], delta["size"]) == (0, 0, 0)
    assert pd.isna(delta["last_pushed"]) and delta["declared"]
    assert table.loc["alpha", "declared"] and table.loc["alpha", "tags"] == 16
    assert not table.loc["beta", "declared"]

    assert forget_namespace(seeded.host, "delta").changed
    assert "delta" not in set(namespaces(seeded.host)["namespace"])
    assert declared_namespaces(seeded.host) == ["alpha"]
    actions = [r["action"] for r in journal.read()]
    assert actions.count("add_namespace") == 3 and actions.count("forget_namespace") == 1


@pytest.mark.parametrize("bad", ["", "a/b", "Team", "-team", "team-", "te am", "a..b"])
def test_add_namespace_refuses_what_is_not_a_path_component(bad):
    with pytest.raises(BadReference):
        add_namespace("127.0.0.1:5000", bad)
    assert declared_namespaces("127.0.0.1:5000") == []


# -- fresh registries ----------------------------------------------------------------------

def test_empty_registry_gives_empty_tables(registry_factory):
    reg = registry_factory()
    table = images(reg.host)
    assert table.empty and list(table.columns) == COLUMNS
    assert str(table["created"].dtype).endswith(", UTC]")
    assert namespaces(reg.host).empty
    add_namespace(reg.host, "planned")
    assert namespaces(reg.host).to_dict("records")[0]["namespace"] == "planned"


def test_vanished_repositories_tags_and_manifests_are_skipped(registry_factory, monkeypatch):
    reg = registry_factory()
    keep = push_image(reg, "ns/keep", "1", layers=[b"keep"])
    gone = push_image(reg, "ns/gone", "1", layers=[b"gone"])
    raw = RawClient(reg)
    client = clients.client_for(reg.host)

    # A tag the index knows is confirmed with a HEAD; when the digest it answers is new, the
    # manifest is then read by digest, and that gap is what this test exercises: list once,
    # then push a new image under the same tag.
    images(reg.host, repositories=["ns/keep", "ns/gone"])
    gone = push_image(reg, "ns/gone", "1", layers=[b"gone again"])

    # A tag listed but deleted before its HEAD: the registry lists it, we ask for a ghost.
    real_tags = client.tags
    monkeypatch.setattr(client, "tags", lambda repo, n=None: [*real_tags(repo, n=n), "ghost"])

    # A manifest deleted between its HEAD and its GET: delete when the last HEAD is done.
    def on_event(event):
        if event.status == "manifests" and event.current == event.total:
            raw.request("DELETE", f"/v2/ns/gone/manifests/{gone.digest}", expect=(202,))

    table = images(reg.host, repositories=["ns/keep", "ns/gone", "ns/never"], progress=on_event)

    assert table["reference"].tolist() == [keep.reference]
    assert sorted(table.attrs["skipped"]) == sorted([
        f"{reg.host}/ns/never", f"{reg.host}/ns/keep:ghost", f"{reg.host}/ns/gone:ghost",
        gone.reference])
    with Index() as store:
        assert store.details([gone.digest]) == {}
        assert "1" not in store.tag_lists(reg.host, ["ns/gone"])["ns/gone"][1]


# -- requests in flight: HTTP/2 carries many on one connection --------------------------------

IN_FLIGHT = 24  # more than the 16 a listing keeps in flight over HTTP/1.1


def test_over_http2_more_requests_are_in_flight_than_http1_connections(basic_registry,
                                                                       unique_repo):
    """Over TLS, distribution speaks HTTP/2: the listing keeps up to 100 requests in flight
    on its one connection, not the 16 it keeps over HTTP/1.1. Proven by holding every
    manifest answer until IN_FLIGHT of them are in at once (a barrier in the response hook,
    which runs in the worker that sent the request): with 16 at a time it would never fill."""
    tags = [f"t{number:02d}" for number in range(IN_FLIGHT)]
    for tag in tags:
        push_image(basic_registry, unique_repo, tag, layer_sizes=(64,), seed=tag)
    clients.configure(basic_registry.host, credentials=basic_registry.auth,
                      ca_bundle=str(basic_registry.ca_file))
    transport = clients.client_for(basic_registry.host).transport
    barrier = threading.Barrier(IN_FLIGHT, timeout=30)
    held: list[str] = []
    lock = threading.Lock()

    def hold(response, *args, **kwargs):
        if response.request.method == "GET" and response.status_code == 200 and \
                "/manifests/t" in response.url:
            with lock:
                held.append(response.url)
                if len(held) > IN_FLIGHT:
                    return
            barrier.wait()  # BrokenBarrierError (the listing fails) if they never meet

    transport.session.hooks["response"].append(hold)
    table = images(basic_registry.host, repositories=[unique_repo])

    assert transport.multiplexed
    assert sorted(table["tag"]) == tags == sorted(list_tags(basic_registry, unique_repo))
    assert len(held) == IN_FLIGHT and not barrier.broken


def test_over_http1_the_transport_does_not_multiplex(seeded):
    client = clients.client_for(seeded.host)
    assert list(client.tags(seeded.rows[0].repository))
    assert client.transport._fast is not None and not client.transport.multiplexed
