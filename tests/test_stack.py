"""The test stack answers like the real services it stands for (the oracle's own checks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support import (LEEWAY, RawClient, get_blob, get_manifest, list_repositories, list_tags,
                           push_image, push_index, seed_sample)
from tests.support.images import busybox_layer, files_layer

REPO = Path(__file__).resolve().parents[1]


def http() -> requests.Session:
    """A session that ignores the environment (REQUESTS_CA_BUNDLE would override verify=)."""
    session = requests.Session()
    session.trust_env = False
    return session


def challenge(response: requests.Response) -> dict[str, str]:
    header = response.headers["WWW-Authenticate"]
    return {"scheme": header.split(" ", 1)[0], **dict(re.findall(r'(\w+)="([^"]*)"', header))}


def get_token(registry, scopes, auth=None) -> requests.Response:
    ts = registry.token_server
    return http().get(ts.realm, params={"service": ts.service, "scope": scopes}, auth=auth)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- plain ---------------------------------------------------------------------------------

def test_plain_registry_answers_v2_anonymously(registry):
    r = http().get(f"{registry.url}/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry.url == f"http://{registry.host}" and registry.host == f"127.0.0.1:{registry.port}"
    assert registry.ca_file is None and registry.username is None


def test_delete_is_refused_when_disabled(nodelete_registry, registry, unique_repo):
    for reg, status in ((nodelete_registry, 405), (registry, 202)):
        image = push_image(reg, unique_repo, "1.0")
        r = http().delete(f"{reg.url}/v2/{unique_repo}/manifests/{image.digest}")
        assert r.status_code == status, reg
    assert not nodelete_registry.delete_enabled and registry.delete_enabled


def test_catalog_maxentries_bounds_page_size(registry_factory):
    reg = registry_factory(catalog_maxentries=2)
    for i in range(3):
        push_image(reg, f"r{i}/app", "1", layer_sizes=(16,), seed=i)
    assert http().get(f"{reg.url}/v2/_catalog?n=3").status_code == 400
    first = http().get(f"{reg.url}/v2/_catalog")
    assert first.json()["repositories"] == ["r0/app", "r1/app"] and 'rel="next"' in first.headers["Link"]
    assert list_repositories(reg) == ["r0/app", "r1/app", "r2/app"]


def test_stop_and_start_keep_port_and_content(registry_factory):
    reg = registry_factory()
    image = push_image(reg, "keep/me", "1.0")
    port = reg.port
    reg.stop()
    assert not reg.is_running()
    with pytest.raises(requests.ConnectionError):
        http().get(f"{reg.url}/v2/", timeout=2)
    reg.start()
    assert reg.is_running() and reg.port == port
    assert get_manifest(reg, "keep/me", "1.0").digest == image.digest


# -- basic + TLS ---------------------------------------------------------------------------

def test_basic_registry_requires_credentials(basic_registry):
    url, ca = f"{basic_registry.url}/v2/", str(basic_registry.ca_file)
    assert url.startswith("https://")
    anonymous = http().get(url, verify=ca)
    assert anonymous.status_code == 401 and challenge(anonymous)["scheme"] == "Basic"
    assert http().get(url, verify=ca, auth=(basic_registry.username, "wrong")).status_code == 401
    assert http().get(url, verify=ca, auth=basic_registry.auth).status_code == 200


def test_basic_registry_tls_verifies_only_with_the_ca_file(basic_registry):
    with pytest.raises(requests.exceptions.SSLError):
        http().get(f"{basic_registry.url}/v2/", verify=True)
    assert http().get(f"{basic_registry.url}/v2/", verify=str(basic_registry.ca_file)).status_code == 401
    # "localhost" is in the certificate too.
    r = http().get(f"https://localhost:{basic_registry.port}/v2/", verify=str(basic_registry.ca_file))
    assert r.status_code == 401


def test_repr_never_shows_the_password(basic_registry):
    assert basic_registry.password and basic_registry.password not in repr(basic_registry)
    assert basic_registry.username in repr(basic_registry)


# -- token ---------------------------------------------------------------------------------

def test_token_registry_challenges_with_realm_and_service(token_registry):
    ts = token_registry.token_server
    r = http().get(f"{token_registry.url}/v2/unknown/app/tags/list")
    assert r.status_code == 401
    c = challenge(r)
    assert (c["scheme"], c["realm"], c["service"]) == ("Bearer", ts.realm, ts.service)
    assert c["scope"] == "repository:unknown/app:pull"


def test_token_from_the_server_lets_alice_push_and_pull(token_registry, unique_repo):
    scope = f"repository:{unique_repo}:pull,push"
    r = get_token(token_registry, [scope], auth=token_registry.auth)
    assert r.status_code == 200
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == token_registry.token_server.lifetime
    upload = http().post(f"{token_registry.url}/v2/{unique_repo}/blobs/uploads/", headers=bearer(body["token"]))
    assert upload.status_code == 202
    assert token_registry.token_server.requests[-1] == ("GET", "alice", (scope,))


def test_bob_can_pull_but_not_push(token_registry, unique_repo):
    image = push_image(token_registry, unique_repo, "1.0")
    bob = ("bob", token_registry.token_server.users["bob"])
    assert get_manifest(token_registry, unique_repo, "1.0",
                        client=RawClient(token_registry, username=bob[0], password=bob[1])).digest == image.digest
    token = get_token(token_registry, [f"repository:{unique_repo}:pull,push"], auth=bob).json()["token"]
    r = http().post(f"{token_registry.url}/v2/{unique_repo}/blobs/uploads/", headers=bearer(token))
    assert r.status_code == 401
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


def test_token_server_refuses_a_wrong_password(token_registry):
    r = get_token(token_registry, ["repository:x/y:pull"], auth=("alice", "wrong"))
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_anonymous_gets_only_anonymous_grants(token_registry, unique_repo):
    push_image(token_registry, unique_repo, "1.0")
    url = f"{token_registry.url}/v2/{unique_repo}/tags/list"
    token = get_token(token_registry, [f"repository:{unique_repo}:pull"]).json()["token"]
    assert http().get(url, headers=bearer(token)).status_code == 401
    token_registry.token_server.anonymous = {"ns-*/*": ["pull"]}
    token = get_token(token_registry, [f"repository:{unique_repo}:pull"]).json()["token"]
    assert http().get(url, headers=bearer(token)).json()["tags"] == ["1.0"]
    assert token_registry.token_server.requests[-1].user is None


def test_catalog_needs_the_registry_scope(token_registry, unique_repo):
    push_image(token_registry, unique_repo, "1.0")
    assert unique_repo in list_repositories(token_registry)
    bob = ("bob", token_registry.token_server.users["bob"])
    token = get_token(token_registry, ["registry:catalog:*"], auth=bob).json()["token"]
    assert http().get(f"{token_registry.url}/v2/_catalog", headers=bearer(token)).status_code == 401


def test_expire_next_makes_the_registry_refuse_a_fresh_looking_token(token_registry):
    ts = token_registry.token_server
    ts.expire_next(1)
    stale = get_token(token_registry, ["registry:catalog:*"], auth=token_registry.auth).json()
    assert stale["expires_in"] == ts.lifetime  # the client cannot tell
    fresh = get_token(token_registry, ["registry:catalog:*"], auth=token_registry.auth).json()
    catalog = f"{token_registry.url}/v2/_catalog"
    assert http().get(catalog, headers=bearer(stale["token"])).status_code == 401
    assert http().get(catalog, headers=bearer(fresh["token"])).status_code == 200


def test_the_registry_grants_exactly_the_leeway_the_token_server_assumes(token_registry):
    # distribution registry/auth/token/token.go: exp + Leeway (60 s). expire_next and
    # strict_lifetime are only honest if that is what the running registry does.
    ts, catalog = token_registry.token_server, f"{token_registry.url}/v2/_catalog"
    status = {expires_in: http().get(catalog, headers=bearer(ts.token_for(
        "alice", ["registry:catalog:*"], expires_in=expires_in))).status_code
        for expires_in in (-(LEEWAY - 15), -(LEEWAY + 15))}
    assert status == {-(LEEWAY - 15): 200, -(LEEWAY + 15): 401}


def test_password_and_refresh_token_grants(token_registry):
    ts = token_registry.token_server
    form = {"grant_type": "password", "service": ts.service, "client_id": "tests",
            "username": "alice", "password": token_registry.password, "access_type": "offline",
            "scope": "registry:catalog:*"}
    body = http().post(ts.realm, data=form).json()
    assert {"token", "access_token", "expires_in", "issued_at", "refresh_token"} <= set(body)
    refreshed = http().post(ts.realm, data={"grant_type": "refresh_token", "service": ts.service,
                                            "client_id": "tests", "refresh_token": body["refresh_token"],
                                            "scope": "registry:catalog:*"})
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    r = http().get(f"{token_registry.url}/v2/_catalog", headers=bearer(refreshed.json()["access_token"]))
    assert r.status_code == 200
    assert [req.user for req in ts.requests] == ["alice", "alice"]
    bad = http().post(ts.realm, data={**form, "password": "wrong"})
    assert bad.status_code == 401
    unknown = http().post(ts.realm, data={"grant_type": "refresh_token", "refresh_token": "nope"})
    assert unknown.status_code == 401


def test_identity_token_issued_for_tests_works(token_registry):
    ts = token_registry.token_server
    identity = ts.issue_identity_token("bob")
    r = http().post(ts.realm, data={"grant_type": "refresh_token", "refresh_token": identity,
                                    "service": ts.service, "scope": "repository:a/b:pull,push"})
    assert r.status_code == 200 and ts.requests[-1] == ("POST", "bob", ("repository:a/b:pull,push",))


def test_token_registry_restarts_with_its_token_server(registry_factory):
    reg = registry_factory("token")
    image = push_image(reg, "keep/me", "1.0")
    reg.stop()
    assert not reg.is_running() and not reg.token_server.is_running()
    reg.start()
    assert reg.token_server.is_running()
    assert get_manifest(reg, "keep/me", "1.0").digest == image.digest


# -- images ----------------------------------------------------------------------------------

@pytest.mark.parametrize("media_type", ["oci", "docker"])
def test_pushed_image_reads_back_byte_for_byte(registry, unique_repo, media_type):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(1000, 3000), seed=7,
                       media_type=media_type, labels={"team": "a"}, created="2024-05-06T07:08:09Z")
    manifest = get_manifest(registry, unique_repo, "1.0")
    assert (manifest.data, manifest.media_type, manifest.digest) == (image.manifest, image.media_type, image.digest)
    assert [layer.size for layer in image.layers] == [1000, 3000]
    config = json.loads(get_blob(registry, unique_repo, image.config.digest))
    assert config["config"]["Labels"] == {"team": "a"} and config["created"] == "2024-05-06T07:08:09Z"
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    for layer in image.layers:
        assert len(get_blob(registry, unique_repo, layer.digest)) == layer.size
    assert image.reference == f"{registry.host}/{unique_repo}:1.0"
    assert image.total_size == image.size + image.config.size + 4000


def test_seeded_layers_are_reproducible_and_unseeded_are_unique(registry, unique_repo):
    a = push_image(registry, unique_repo, "a", seed="s")
    b = push_image(registry, unique_repo, "b", seed="s", created="2020-01-01T00:00:00Z")
    c = push_image(registry, unique_repo, "c")
    assert a.layers == b.layers and a.layers != c.layers


@pytest.mark.parametrize("media_type", ["oci", "docker"])
def test_pushed_index_reads_back(registry, unique_repo, media_type):
    children = [push_image(registry, unique_repo, None, platform=p, media_type=media_type)
                for p in [("linux", "amd64"), ("linux", "arm64", "v8")]]
    digest = push_index(registry, unique_repo, "multi", children, media_type=media_type)
    index = get_manifest(registry, unique_repo, "multi")
    assert index.digest == digest and index.media_type.endswith(("index.v1+json", "list.v2+json"))
    entries = json.loads(index.data)["manifests"]
    assert [e["digest"] for e in entries] == [c.digest for c in children]
    assert entries[1]["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert list_tags(registry, unique_repo) == ["multi"]


@pytest.mark.parametrize("flavour", ["basic", "token"])
def test_push_and_read_back_through_auth(flavour, basic_registry, token_registry, unique_repo):
    reg = basic_registry if flavour == "basic" else token_registry
    image = push_image(reg, unique_repo, "1.0", layers=[files_layer({"a.txt": b"a"})])
    assert get_manifest(reg, unique_repo, "1.0").digest == image.digest
    assert list_tags(reg, unique_repo) == ["1.0"]


# -- engine ----------------------------------------------------------------------------------

def test_engine_runs_the_busybox_base_image(docker_client, base_image):
    out = docker_client.containers.run(base_image, ["sh", "-c", "echo hello; id -u; ls /tmp"],
                                       network_mode="none", remove=True)
    assert out.decode().split() == ["hello", "0"]


def test_engine_pulls_and_runs_a_seeded_image(docker_client, registry_factory):
    reg = registry_factory()
    pushed = seed_sample(reg)
    ref = f"{reg.host}/tutorial/hello:1.0"
    try:
        image = docker_client.images.pull(ref)
        assert pushed[ref] in image.attrs["RepoDigests"][0]
        out = docker_client.containers.run(ref, network_mode="none", remove=True)
        assert out == b"Hello from registry-widgets!\n"
    finally:
        docker_client.images.remove(ref, force=True)


def test_busybox_layer_is_deterministic():
    assert busybox_layer() == busybox_layer()


# -- services CLI ----------------------------------------------------------------------------

@pytest.mark.slow
def test_services_cli_up_status_down(tmp_path):
    env = {**os.environ, "REGISTRY_WIDGETS_SERVICES": str(tmp_path / "services"),
           "REGISTRY_WIDGETS_PORT": str(_free_port()), "REGISTRY_WIDGETS_NO_ENGINE": "1"}
    run = lambda *args: subprocess.run([str(REPO / "scripts/services"), *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    try:
        up = run("up")
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{env['REGISTRY_WIDGETS_PORT']}" in up.stdout
        assert "CA file:" in up.stdout and "basic" in up.stdout
        again = run("up")
        assert "already running" in again.stdout
        assert run("status").returncode == 0
    finally:
        down = run("down")
    assert down.returncode == 0 and "stopped registry plain" in down.stdout
    assert run("status").returncode == 3


def _free_port() -> int:
    from devstack._process import free_port
    return free_port()

