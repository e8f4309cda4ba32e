"""Vendor listing APIs (Harbor v2, Docker Hub, IBM Cloud Container Registry), each against a
small local server that answers as the vendor's documentation says, with a real
distribution behind it (tests/support/vendor_servers.py names the pages).

The rows a vendor API gives must EQUAL the rows the OCI API gives for the same content:
each test lists the same repositories through the vendor's front and straight from the
distribution behind it, each with an index of its own, and compares the tables.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from registry_widgets import (ConfirmationRequired, InvalidArgument, Unauthorized, add_namespace,
                              ibm_add_namespace, ibm_namespaces, ibm_quota,
                              ibm_remove_namespace, ibm_trash, ibm_usage, images,
                              plan_ibm_remove_namespace, usage)
from registry_widgets import notebook_support as nb
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.inventory import inventory
from registry_widgets.vendors import forget, kind_of, use_vendor_api
from registry_widgets.widgets.login_panel import LoginPanel
from registry_widgets.widgets.registry_bar import RegistryBar
from registry_widgets.vendors.dockerhub import pulls_left
from tests.support import RawClient, list_tags, push_image, push_index
from tests.support.vendor_servers import FakeDockerHub, FakeHarbor, FakeIBM, seed_tags

HARBOR_DOC = "https://goharbor.io/docs/2.10.0/build-customize-contribute/configure-swagger/"
HUB_DOC = "https://docs.docker.com/reference/api/hub/latest/operations/ListRepositoryTags/"
HUB_LIMITS_DOC = "https://docs.docker.com/docker-hub/usage/pulls/"
IBM_DOC = "https://cloud.ibm.com/apidocs/container-registry"
IAM_DOC = "https://cloud.ibm.com/docs/account?topic=account-iamtoken_from_apikey"
API_KEY = "ibm-key-Zq81-never-stored"


@pytest.fixture(autouse=True)
def _fresh_vendors():
    forget()
    clients.reset()
    yield
    forget()
    clients.reset()


def seed(reg, project: str = "proj") -> list[str]:
    """Images, a co-tag, a two-platform index, a cosign-style signature tag and a nested
    repository: what a listing must describe alike on every path."""
    one = push_image(reg, f"{project}/app", "1.0", layers=[b"one"], labels={"v": "1"})
    push_image(reg, f"{project}/app", "latest", layers=[b"one"], labels={"v": "1"})
    arm = push_image(reg, f"{project}/app", None, layers=[b"arm"], platform=("linux", "arm64"))
    amd = push_image(reg, f"{project}/app", None, layers=[b"amd"])
    push_index(reg, f"{project}/app", "multi", [amd, arm])
    push_image(reg, f"{project}/app", f"sha256-{one.digest[7:]}.sig", layers=[b"sig"],
               media_type="oci")
    push_image(reg, f"{project}/team/tool", "2.0", layers=[b"tool"], media_type="docker")
    return [f"{project}/app", f"{project}/team/tool"]


def listed(host: str, repositories: list[str], tmp_path, monkeypatch, name: str) -> pd.DataFrame:
    """``images()`` with an index of its own (nothing learned by another listing is reused),
    and the host taken out of the references so two fronts of one registry compare."""
    state = tmp_path / f"state-{name}"
    state.mkdir()
    monkeypatch.setenv("REGISTRY_WIDGETS_STATE", str(state))
    table = images(host, repositories=repositories)
    table["reference"] = table["reference"].str.replace(host, "HOST", regex=False)
    return table


def by_tag(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The per-tag requests of the OCI listing: tag lists and manifests named by tag."""
    return [(m, p) for m, p in requests
            if "/tags/list" in p or ("/manifests/" in p and "/manifests/sha256:" not in p)]


def test_harbor_artifacts_give_the_rows_the_oci_api_gives(registry_factory, tmp_path,
                                                          monkeypatch):
    # Harbor's listArtifacts (HARBOR_DOC): digest and tags per artifact, 100 a page, the
    # repository path encoded twice. Found from the Bearer challenge's service, undeclared.
    reg = registry_factory()
    repos = seed(reg)
    harbor = FakeHarbor(reg)
    try:
        through_api = listed(harbor.host, repos, tmp_path, monkeypatch, "harbor")
        generic = listed(reg.host, repos, tmp_path, monkeypatch, "oci")
        assert kind_of(clients.client_for(harbor.host)) == "harbor"
        assert kind_of(clients.client_for(reg.host)) is None
        assert through_api.attrs["vendor_api"] == "harbor"
        assert generic.attrs["vendor_api"] is None
        pd.testing.assert_frame_equal(through_api, generic)
        assert len(generic) == 4 and set(generic["repository"]) == set(repos)
        assert by_tag(harbor.server.requests) == []
        artifacts = [p for _, p in harbor.server.requests if p.endswith("page=1")]
        assert any("/repositories/team%252Ftool/artifacts" in p for p in artifacts)
        # A project's repositories from Harbor's listRepositories, not the catalog.
        harbor.server.reset_counts()
        project = images(harbor.host, "proj")
        assert list(project["reference"].str.replace(harbor.host, "HOST", regex=False)) == \
            list(generic["reference"])
        assert not [p for _, p in harbor.server.requests if "_catalog" in p]
        assert any(p.startswith("/api/v2.0/projects/proj/repositories?")
                   for _, p in harbor.server.requests)
        # Harbor's push times, kept beside the rows (inventory().vendor_details).
        listing = inventory(harbor.host, repositories=repos)
        assert set(listing.vendor_details) >= set(generic["digest"])
        assert {d["pushed"] for d in listing.vendor_details.values()} == \
            {"2026-12-07T05:00:00.000Z"}
    finally:
        harbor.close()


def test_harbor_api_refused_falls_back_to_the_oci_api(registry_factory, tmp_path,
                                                      monkeypatch):
    # Harbor answers 401 to an API user it does not know (HARBOR_DOC): the OCI path lists.
    reg = registry_factory()
    repos = seed(reg)
    harbor = FakeHarbor(reg, users={"admin": "Harbor12345"})
    try:
        clients.configure(harbor.host, credentials=("robot", "wrong"))
        through_front = listed(harbor.host, repos, tmp_path, monkeypatch, "harbor")
        generic = listed(reg.host, repos, tmp_path, monkeypatch, "oci")
        pd.testing.assert_frame_equal(through_front, generic)
        assert through_front.attrs["vendor_api"] is None
        assert len(by_tag(harbor.server.requests)) >= 2  # tag lists were read
    finally:
        harbor.close()


def test_harbor_with_its_users_credentials(registry_factory, tmp_path, monkeypatch):
    reg = registry_factory()
    repos = seed(reg)
    harbor = FakeHarbor(reg, users={"admin": "Harbor12345"})
    try:
        clients.configure(harbor.host, credentials=("admin", "Harbor12345"))
        table = listed(harbor.host, repos, tmp_path, monkeypatch, "harbor")
        assert table.attrs["vendor_api"] == "harbor" and len(table) == 4
        assert by_tag(harbor.server.requests) == []
    finally:
        harbor.close()


@pytest.fixture
def memory_storage():
    """Registry storage in memory (/dev/shm where there is one): 10,000 tag links are
    20,000 small files, which a busy disk writes slowly."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_ten_thousand_tags_through_harbor_take_at_most_150_requests(registry_factory,
                                                                    memory_storage):
    # The bound: 10,000 tags through a vendor API in at most 150 requests, counted
    # at the server. Tags are links to three images (written as a manifest PUT writes them).
    reg = registry_factory(storage=memory_storage)
    pushed = [push_image(reg, "proj/many", f"seed{i}", layers=[b"many%d" % i])
              for i in range(3)]
    for i, image in enumerate(pushed):
        seed_tags(reg, "proj/many", image.digest,
                  [f"v{n}" for n in range(i, 10_000 - 3, 3)])
    harbor = FakeHarbor(reg)
    try:
        table = images(harbor.host, repositories=["proj/many"])
        assert len(table) == 10_000
        assert set(table["digest"]) == {p.digest for p in pushed}
        counted = len(harbor.server.requests)
        assert counted <= 150, Counter(p.split("?")[0] for _, p in harbor.server.requests)
        # The client counts one more: its first try of TLS on a loopback port, which the
        # plain-HTTP server never sees as a request.
        assert counted <= table.attrs["requests"] <= counted + 1
        # Artifacts are per digest: three images are one page, however many tags.
        assert harbor.pages_served == 1
    finally:
        harbor.close()


def test_docker_hub_tags_give_the_rows_and_pulls_left(registry_factory, tmp_path, monkeypatch):
    # Hub's ListRepositoryTags (HUB_DOC): name and digest per tag, `next` for the next
    # page; the registry's ratelimit-limit/-remaining headers (HUB_LIMITS_DOC).
    reg = registry_factory()
    push_image(reg, "library/alpine", "3.20", layers=[b"alpine"])
    push_image(reg, "library/alpine", "latest", layers=[b"alpine"])
    amd = push_image(reg, "library/alpine", None, layers=[b"a-amd"])
    arm = push_image(reg, "library/alpine", None, layers=[b"a-arm"],
                     platform=("linux", "arm64"))
    push_index(reg, "library/alpine", "multi", [amd, arm])
    team = [push_image(reg, "team/app", f"t{n:03d}", layers=[b"t%d" % n]) for n in range(3)]
    for n in range(3, 150):  # two pages of 100
        seed_tags(reg, "team/app", team[n % 3].digest, [f"t{n:03d}"])
    repos = ["library/alpine", "team/app"]
    hub = FakeDockerHub(reg, limit=100, window=21600)
    try:
        use_vendor_api(hub.host, "dockerhub", api_url=hub.api.url)
        assert pulls_left(hub.host) is None  # nothing said yet
        through_api = listed(hub.host, repos, tmp_path, monkeypatch, "hub")
        generic = listed(reg.host, repos, tmp_path, monkeypatch, "oci")
        pd.testing.assert_frame_equal(through_api, generic)
        assert through_api.attrs["vendor_api"] == "dockerhub" and len(generic) == 153
        assert by_tag(hub.front.requests) == []
        tag_pages = [p for _, p in hub.api.requests if p.startswith("/v2/namespaces/team/")]
        assert len(tag_pages) == 2
        # Each distinct image's manifest was read once (a pull, as Docker counts): the
        # registry said how many are left.
        gets = sum(1 for m, p in hub.front.requests if m == "GET" and "/manifests/" in p)
        assert pulls_left(hub.host) == f"{100 - gets} of 100 pulls left (per 6 h)"
        # Docker Hub refuses the catalog; its ListRepositories names a namespace's.
        team = images(hub.host, "team")
        assert len(team) == 150 and set(team["repository"]) == {"team/app"}
        assert ("GET", "/v2/namespaces/team/repositories?page_size=100") in hub.api.requests
    finally:
        hub.close()


def test_docker_hub_private_repository_after_login(registry_factory, tmp_path, monkeypatch):
    reg = registry_factory()
    push_image(reg, "me/private", "1", layers=[b"p1"])
    push_image(reg, "me/private", "2", layers=[b"p2"])
    hub = FakeDockerHub(reg, users={"me": "dckr_pat_secret"}, private={"me/private"})
    try:
        use_vendor_api(hub.host, "dockerhub", api_url=hub.api.url)
        clients.configure(hub.host, credentials=("me", "dckr_pat_secret"))
        table = listed(hub.host, ["me/private"], tmp_path, monkeypatch, "hub")
        assert table.attrs["vendor_api"] == "dockerhub" and list(table["tag"]) == ["1", "2"]
        assert ("POST", "/v2/users/login") in hub.api.requests
        assert by_tag(hub.front.requests) == []
    finally:
        hub.close()


def test_ibm_images_give_the_rows_and_the_key_is_never_stored(registry_factory, tmp_path,
                                                              monkeypatch, caplog):
    # IBM's listImages (IBM_DOC), one request per namespace, with an IAM token exchanged
    # for the API key (IAM_DOC) and the Account header from that token.
    reg = registry_factory()
    repos = seed(reg, "team1")
    push_image(reg, "other/app", "1", layers=[b"other"])  # another account's namespace
    ibm = FakeIBM(reg, api_key=API_KEY, namespaces=["team1"])
    caplog.set_level(logging.DEBUG)
    try:
        use_vendor_api(ibm.host, "ibm", iam_url=ibm.url)
        monkeypatch.setenv("IBMCLOUD_API_KEY", API_KEY)
        through_api = listed(ibm.host, repos, tmp_path, monkeypatch, "ibm")
        generic = listed(reg.host, repos, tmp_path, monkeypatch, "oci")
        pd.testing.assert_frame_equal(through_api, generic)
        assert through_api.attrs["vendor_api"] == "ibm"
        assert by_tag(ibm.server.requests) == []
        images_calls = [p for _, p in ibm.server.requests if p.startswith("/api/v1/images")]
        assert len(images_calls) == 1 and "namespace=team1" in images_calls[0]
        # Vulnerability Advisor's word per image, kept beside the rows.
        listing = inventory(ibm.host, repositories=repos)
        assert {d["vulnerable"] for d in listing.vendor_details.values()} == {"false"}
        assert ("POST", "/identity/token") in ibm.server.requests
        # The key went to IAM only, and nowhere this package writes or logs.
        sent_with_key = [s for s in ibm.server.seen if API_KEY in s]
        assert len(sent_with_key) == 1 and sent_with_key[0].startswith("POST /identity/token")
        assert API_KEY not in caplog.text
        written = [p for p in tmp_path.rglob("*") if p.is_file()
                   and API_KEY.encode() in p.read_bytes()]
        assert written == []
    finally:
        ibm.close()


def test_kind_from_the_host_sends_nothing():
    assert kind_of(clients.client_for("us.icr.io")) == "ibm"
    assert kind_of(clients.client_for("icr.io")) == "ibm"
    assert kind_of(clients.client_for("docker.io")) == "dockerhub"
    assert kind_of(clients.client_for("registry.example.com")) is None
    assert clients.client_for("us.icr.io").transport.stats["requests"] == 0


@pytest.mark.parametrize("kind, options, words", [
    ("quay", {}, "must be one of harbor, dockerhub, ibm or None, not 'quay'"),
    ("harbor", {"api_url": "ftp://x"}, "api_url of r.example must be an http(s) URL"),
])
def test_use_vendor_api_refuses_what_it_cannot_use(kind, options, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        use_vendor_api("r.example", kind, **options)


# -- IBM Cloud's own objects: namespaces, quota, trash ---------------------------------------

@pytest.fixture
def ibm_registry(registry_factory, monkeypatch):
    """A FakeIBM account with namespace team1 (two tags of one image, one of another) in
    front of a real distribution, logged in as ``iamapikey`` with the API key."""
    reg = registry_factory()
    push_image(reg, "team1/app", "1.0", layers=[b"ibm-one"])
    push_image(reg, "team1/app", "latest", layers=[b"ibm-one"])
    push_image(reg, "team1/web", "2.0", layers=[b"ibm-two"])
    ibm = FakeIBM(reg, api_key=API_KEY, namespaces=["team1"], quota=(512 << 20, 5 << 30),
                  usage=(0, 3 << 20))
    monkeypatch.delenv("IBMCLOUD_API_KEY", raising=False)
    use_vendor_api(ibm.host, "ibm", iam_url=ibm.url)
    clients.configure(ibm.host, credentials=("iamapikey", API_KEY))
    yield reg, ibm
    ibm.close()


def test_ibm_namespaces_are_added_through_ibms_api(ibm_registry):
    # createNamespace: PUT /api/v1/namespaces/{name}, 201 when created, 200 when it was
    # there (IBM_DOC).
    reg, ibm = ibm_registry
    assert ibm_namespaces(ibm.host) == ["team1"]
    added = ibm_add_namespace(ibm.host, "team2")
    assert added.changed and ibm.namespaces == {"team1", "team2"}
    assert not ibm_add_namespace(ibm.host, "team2").changed
    assert ibm_namespaces(ibm.host) == ["team1", "team2"]
    assert ("PUT", "/api/v1/namespaces/team2") in ibm.server.requests
    # The generic verb does the same where the registry is IBM's.
    assert add_namespace(ibm.host, "team3").changed and "team3" in ibm.namespaces


def test_ibm_namespace_removal_shows_its_images_first(ibm_registry, state_dir, caplog):
    reg, ibm = ibm_registry
    caplog.set_level(logging.DEBUG)
    plan = plan_ibm_remove_namespace(ibm.host, "team1")
    assert list(plan.table()["tag"]) == ["1.0", "latest", "2.0"]
    assert list(plan.table()["repository"]) == ["team1/app", "team1/app", "team1/web"]
    with pytest.raises(ConfirmationRequired) as refused:
        ibm_remove_namespace(ibm.host, "team1", plan=plan)
    assert "team1/app:1.0" in str(refused.value) and 'confirm="team1"' in str(refused.value)
    assert not [r for r in ibm.server.requests if r[0] == "DELETE"]
    # A tag pushed after the plan was shown: the plan no longer says what would go.
    push_image(reg, "team1/web", "2.1", layers=[b"ibm-three"])
    with pytest.raises(ConfirmationRequired, match="changed since the plan: 1 tags appeared"):
        ibm_remove_namespace(ibm.host, "team1", plan=plan, confirm="team1")
    assert list_tags(reg, "team1/web") == ["2.0", "2.1"]

    fresh = plan_ibm_remove_namespace(ibm.host, "team1")
    done = ibm_remove_namespace(ibm.host, "team1", plan=fresh, confirm="team1")
    assert done.changed and ("DELETE", "/api/v1/namespaces/team1") in ibm.server.requests
    assert ibm_namespaces(ibm.host) == []
    # IBM deleted the images (the oracle reads the registry behind it) and keeps them in
    # its trash (listDeletedImages).
    gone = RawClient(reg).request("GET", "/v2/team1/app/manifests/1.0", expect=(404,))
    assert gone.status_code == 404
    trash = ibm_trash(ibm.host)
    assert sorted(t for tags in trash["tags"] for t in tags) == ["1.0", "2.0", "2.1", "latest"]
    assert set(trash["days_until_expiry"]) == {30}
    assert all(name.startswith(f"{ibm.host}/team1/") for name in trash["image"])
    # The key is in no journal, state file or log line.
    assert not [p for p in state_dir.rglob("*") if p.is_file()
                and API_KEY.encode() in p.read_bytes()]
    assert API_KEY not in caplog.text and API_KEY not in repr(done.to_dict())


def test_the_namespace_tables_remove_deletes_an_ibm_namespace_through_ibms_api(ibm_registry):
    """Namespaces tab on an IBM registry: Remove namespace shows IBM's image list as the plan
    and deletes nothing; Confirm, with the name typed, deletes the namespace through IBM's
    API (deleteNamespace, IBM_DOC), not tag by tag through the registry."""
    from registry_widgets.widgets.namespace_table import NamespaceTable
    from tests.test_widgets import assert_ok, click, ready

    reg, ibm = ibm_registry
    table = ready(NamespaceTable(ibm.host))
    assert_ok(table)
    assert "team1" in set(table.frame["namespace"])
    table.select("team1")
    click(table, table.remove_button)
    plan = table.confirmation.plan.value
    assert "team1/app:1.0" in plan and "team1/web:2.0" in plan and "IBM Cloud account" in plan
    assert not [r for r in ibm.server.requests if r[0] == "DELETE"]
    assert table.confirm_button.disabled  # the name is not typed yet
    table.confirm_name.value = "team1"
    click(table, table.confirm_button)
    assert_ok(table)
    deletes = [r for r in ibm.server.requests if r[0] == "DELETE"]
    assert deletes == [("DELETE", "/api/v1/namespaces/team1")]
    assert ibm.namespaces == set()
    gone = RawClient(reg).request("GET", "/v2/team1/app/manifests/1.0", expect=(404,))
    assert gone.status_code == 404


def test_ibm_quota_beside_what_is_stored(ibm_registry):
    # getQuota (IBM_DOC): limit and usage in bytes, -1 for unlimited.
    reg, ibm = ibm_registry
    quota = ibm_quota(ibm.host)
    assert quota["storage_limit"] == 512 << 20 and quota["traffic_limit"] == 5 << 30
    assert quota["traffic_used"] == 3 << 20
    stored = images(reg.host, repositories=["team1/app", "team1/web"])
    assert quota["storage_used"] == int(stored.drop_duplicates("digest")["size"].sum())
    # Beside the bytes counted here (shared layers once), which the registry's own figures
    # need not equal: IBM counts what it bills.
    beside = ibm_usage(ibm.host)
    assert list(beside["figure"]) == ["storage", "pull traffic"]
    storage = beside.iloc[0]
    assert storage["ibm_used"] == quota["storage_used"] and storage["ibm_limit"] == 512 << 20
    counted = usage(ibm.host)
    assert storage["counted_here"] == counted.loc[counted["level"] == "namespace",
                                                  "bytes"].sum()
    assert beside.iloc[1]["ibm_used"] == 3 << 20 and pd.isna(beside.iloc[1]["counted_here"])


def test_ibm_refused_api_key_is_one_clear_error_without_the_key(ibm_registry):
    reg, ibm = ibm_registry
    clients.configure(ibm.host, credentials=("iamapikey", "a-wrong-key-4411"))
    with pytest.raises(Unauthorized) as refused:
        ibm_namespaces(ibm.host)
    words = str(refused.value)
    assert "IBM Cloud IAM refused the API key" in words and "log in again" in words
    assert "a-wrong-key-4411" not in words


def test_ibm_verbs_on_another_registry_say_so(registry):
    with pytest.raises(InvalidArgument, match="is not IBM Cloud Container Registry"):
        ibm_namespaces(registry.host)


# -- the widgets: IBM's regions, the API key login, Docker Hub's pulls left ------------------

def widget_states() -> str:
    from ipywidgets.widgets.widget import _instances
    return json.dumps([widget.get_state() for widget in list(_instances.values())],
                      default=str)


def test_registry_bar_offers_ibm_regions():
    bar = RegistryBar(["127.0.0.1:1"], remember_added=False)
    hosts = [host for _, host in bar.ibm_region.options if host]
    assert hosts == ["icr.io", "us.icr.io", "uk.icr.io", "de.icr.io", "au.icr.io", "jp.icr.io",
                     "jp2.icr.io", "ca.icr.io", "br.icr.io", "fr2.icr.io"]
    bar.ibm_region.value = "de.icr.io"
    assert bar.value == "de.icr.io" and "de.icr.io" in bar.registries
    assert bar.ibm_region.value == ""  # ready for another choice
    bar.wait(30)


def test_log_in_to_ibm_with_the_environments_api_key(ibm_registry, monkeypatch, tmp_path):
    reg, ibm = ibm_registry
    clients.configure(ibm.host)  # not logged in yet
    monkeypatch.setenv("IBMCLOUD_API_KEY", API_KEY)
    login = LoginPanel(ibm.host)
    assert "iamapikey" in login.heading.value
    login.login()  # user and password left empty: iamapikey and the environment's key
    assert "logged in to" in login.message.text and "iamapikey" in login.message.text
    monkeypatch.delenv("IBMCLOUD_API_KEY")
    assert ibm_namespaces(ibm.host) == ["team1"]  # the login's key, from memory
    assert API_KEY not in widget_states()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()
                and API_KEY.encode() in p.read_bytes()]


def test_log_in_to_ibm_without_a_key_says_what_to_give(ibm_registry, monkeypatch):
    reg, ibm = ibm_registry
    monkeypatch.delenv("IBMCLOUD_API_KEY", raising=False)
    login = LoginPanel(ibm.host)
    with pytest.raises(ValueError, match="Log in: give an IBM Cloud API key as the password"):
        login.login()


def test_registry_bar_shows_docker_hubs_pulls_left(registry_factory):
    reg = registry_factory()
    push_image(reg, "library/busybox", "1", layers=[b"bb"])
    hub = FakeDockerHub(reg, limit=200, window=21600)
    try:
        use_vendor_api(hub.host, "dockerhub", api_url=hub.api.url)
        images(hub.host, repositories=["library/busybox"])
        bar = RegistryBar([hub.host], remember_added=False)
        bar.wait(30)
        assert "199 of 200 pulls left (per 6 h)" in bar.state.value
    finally:
        hub.close()


def test_setup_notebooks_login_takes_ibmcloud_api_key(ibm_registry, monkeypatch):
    # 00_setup's step 2 (notebook_support.login): no docker login, IBMCLOUD_API_KEY set.
    reg, ibm = ibm_registry
    clients.configure(ibm.host)  # not logged in
    monkeypatch.setenv("IBMCLOUD_API_KEY", API_KEY)
    shown = nb.login(ibm.host, interactive=False)
    assert shown["username"] == "iamapikey"
    assert shown["credentials_from"].startswith("IBMCLOUD_API_KEY")
    assert API_KEY not in json.dumps(shown)
    monkeypatch.delenv("IBMCLOUD_API_KEY")
    assert ibm_namespaces(ibm.host) == ["team1"]  # the key, from this kernel's memory
