"""Authentication against real registries: Basic over HTTPS, Bearer tokens, stored credentials.

``basic_registry`` is distribution with htpasswd behind TLS from a generated CA;
``token_registry`` is distribution with ``auth: token`` and the stack's token server, whose
log shows every token the client asked for and whose ``expire_next`` hands out tokens the
registry will refuse. Credentials come from real ``config.json`` files and real
``docker-credential-*`` scripts on PATH.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import time
import traceback
import urllib.parse
from pathlib import Path

import pytest
import requests

from registry_widgets.errors import Denied, Unauthorized, Unreachable
from registry_widgets.manifest import OCI_MANIFEST, Manifest, digest_of
from registry_widgets.registry import RegistryClient
from tests.support import get_blob, get_manifest, push_image

WRONG_PASSWORD = "wrong-Pw-7Qz"


def texts_of(error: BaseException) -> list[str]:
    """Everything a user could see of an exception: str, repr and the chained traceback."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    for text in texts_of(error):
        for secret in secrets:
            assert secret not in text


def record_responses(client: RegistryClient) -> list[requests.Response]:
    """The registry's answers to the client, in order (a requests hook; token fetches, which
    share the session, are left out)."""
    seen: list[requests.Response] = []
    host = client.registry

    def hook(response: requests.Response, *args, **kwargs) -> None:
        if urllib.parse.urlsplit(response.url).netloc == host:
            seen.append(response)

    client.transport.session.hooks["response"].append(hook)
    return seen


def push_small_image(client: RegistryClient, repository: str, tag: str) -> Manifest:
    """Config and layer blobs, then an OCI manifest: every write a push makes."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(4096)
    for data in (config, layer):
        client.upload_blob(repository, digest_of(data), data, len(data))
    manifest = Manifest(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer), "size": len(layer)}],
    }).encode(), OCI_MANIFEST)
    client.put_manifest(repository, tag, manifest)
    return manifest


def token_scopes(token_registry) -> list[tuple[str, ...]]:
    return [r.scopes for r in token_registry.token_server.requests]


# -- Basic auth over HTTPS ---------------------------------------------------------------------

def test_basic_auth_over_https_with_the_generated_ca(basic_registry, unique_repo):
    client = RegistryClient(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                            credentials=(basic_registry.username, basic_registry.password))

    assert client.ping() == {"registry": basic_registry.host, "url": basic_registry.url,
                             "api_version": "registry/2.0", "auth": "basic"}
    manifest = push_small_image(client, unique_repo, "v1")
    assert client.get_manifest(unique_repo, "v1").data == manifest.data
    assert get_manifest(basic_registry, unique_repo, "v1").data == manifest.data


def test_basic_auth_wrong_password_is_unauthorized_with_the_login_hint(basic_registry,
                                                                       unique_repo):
    client = RegistryClient(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                            credentials=(basic_registry.username, WRONG_PASSWORD))

    with pytest.raises(Unauthorized) as caught:
        list(client.tags(unique_repo))

    message = str(caught.value)
    assert f"docker login {basic_registry.host}" in message
    assert f"{basic_registry.host}/{unique_repo}" in message
    assert caught.value.status == 401
    assert_no_secret(caught.value, WRONG_PASSWORD, basic_registry.password)


def test_https_without_the_ca_is_unreachable_naming_tls_and_ca_bundle(basic_registry,
                                                                     unique_repo):
    # REQUESTS_CA_BUNDLE may point at the system store: the generated CA is in neither.
    client = RegistryClient(basic_registry.host,
                            credentials=(basic_registry.username, basic_registry.password))

    with pytest.raises(Unreachable) as caught:
        list(client.tags(unique_repo))

    message = str(caught.value)
    assert "TLS" in message and "ca_bundle" in message
    assert basic_registry.host in message and unique_repo in message
    assert_no_secret(caught.value, basic_registry.password)


def test_passwords_never_show_in_a_client_or_its_parts(basic_registry):
    client = RegistryClient(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                            credentials=(basic_registry.username, basic_registry.password))
    client.ping()
    for shown in (repr(client), repr(client.transport), repr(client.transport.auth)):
        assert basic_registry.password not in shown


# -- Bearer tokens -----------------------------------------------------------------------------

def alice(token_registry) -> RegistryClient:
    return RegistryClient(token_registry.host,
                          credentials=(token_registry.username, token_registry.password))


def bob(token_registry) -> RegistryClient:
    return RegistryClient(token_registry.host,
                          credentials=("bob", token_registry.token_server.users["bob"]))


def test_alice_pushes_and_pulls_with_tokens(token_registry, unique_repo):
    client = alice(token_registry)

    manifest = push_small_image(client, unique_repo, "v1")

    assert client.ping()["auth"] == "bearer"
    assert list(client.tags(unique_repo)) == ["v1"]
    assert client.get_manifest(unique_repo, "v1").data == manifest.data
    for layer in manifest.blobs:
        assert client.get_blob(unique_repo, layer.digest) == \
            get_blob(token_registry, unique_repo, layer.digest)
    assert {r.user for r in token_registry.token_server.requests} == {"alice"}


def test_bob_may_pull_but_his_push_is_denied_with_a_clear_message(token_registry, unique_repo):
    push_small_image(alice(token_registry), unique_repo, "v1")
    client = bob(token_registry)

    assert list(client.tags(unique_repo)) == ["v1"]
    assert client.get_manifest(unique_repo, "v1").media_type == OCI_MANIFEST
    with pytest.raises(Denied) as caught:
        client.upload_blob(unique_repo, digest_of(b"bob's"), b"bob's", 5)

    # distribution answers 401 `error="insufficient_scope"`: the login worked, the right is missing.
    message = str(caught.value)
    assert "lack permission" in message and "push" in message
    assert f"{token_registry.host}/{unique_repo}" in message
    assert "docker login" not in message
    assert_no_secret(caught.value, token_registry.token_server.users["bob"])


def test_wrong_password_at_the_token_server_is_unauthorized(token_registry, unique_repo):
    client = RegistryClient(token_registry.host, credentials=("alice", WRONG_PASSWORD))

    with pytest.raises(Unauthorized) as caught:
        list(client.tags(unique_repo))

    message = str(caught.value)
    assert "token server" in message and "'alice'" in message
    assert f"docker login {token_registry.host}" in message and unique_repo in message
    assert_no_secret(caught.value, WRONG_PASSWORD, token_registry.password)


def test_one_token_per_scope_serves_many_requests(token_registry, unique_repo):
    client = alice(token_registry)
    manifest = push_small_image(client, unique_repo, "v1")
    token_registry.token_server.reset_log()

    for _ in range(3):
        assert list(client.tags(unique_repo)) == ["v1"]
        assert client.head_manifest(unique_repo, "v1").digest == manifest.digest
        assert client.get_manifest(unique_repo, "v1").digest == manifest.digest
        assert client.head_blob(unique_repo, manifest.config.digest) == manifest.config.size

    assert token_scopes(token_registry) == [(f"repository:{unique_repo}:pull",)]


def test_each_scope_gets_its_own_token(token_registry, unique_repo):
    client = alice(token_registry)
    push_small_image(client, unique_repo, "v1")
    push_small_image(client, f"{unique_repo}-2", "v1")
    token_registry.token_server.reset_log()

    for repository in (unique_repo, f"{unique_repo}-2", unique_repo, f"{unique_repo}-2"):
        list(client.tags(repository))

    assert token_scopes(token_registry) == [(f"repository:{unique_repo}:pull",),
                                            (f"repository:{unique_repo}-2:pull",)]


def test_a_token_is_refreshed_before_it_expires(token_registry, unique_repo):
    token_registry.token_server.lifetime = 2  # the fixture restores it
    client = alice(token_registry)
    push_small_image(client, unique_repo, "v1")
    list(client.tags(unique_repo))
    token_registry.token_server.reset_log()
    seen = record_responses(client)

    list(client.tags(unique_repo))  # still fresh: no new token
    assert token_scopes(token_registry) == []
    time.sleep(2.1)  # past the 2 s lifetime (the client refreshes after 3/4 of it)
    assert list(client.tags(unique_repo)) == ["v1"]

    assert token_scopes(token_registry) == [(f"repository:{unique_repo}:pull",)]
    assert [r.status_code for r in seen] == [200, 200]  # no 401 on the way


def test_a_token_refused_mid_operation_is_refreshed_once(token_registry, unique_repo):
    client = alice(token_registry)
    client.ping()
    seen = record_responses(client)
    token_registry.token_server.reset_log()
    token_registry.token_server.expire_next(1)  # the registry will refuse the next token

    manifest = push_small_image(client, unique_repo, "v1")

    assert [r.status_code for r in seen].count(401) == 1
    assert token_scopes(token_registry) == [(f"repository:{unique_repo}:pull,push",)] * 2
    assert get_manifest(token_registry, unique_repo, "v1").data == manifest.data


def test_a_streamed_upload_after_a_mount_miss_survives_a_refused_token(token_registry,
                                                                      unique_repo):
    """The mount attempt runs under other scopes than the PUT, so the PUT needs a token of its
    own; a streamed body cannot be replayed after a 401, so that token is checked first."""
    client = alice(token_registry)
    source, target = unique_repo, f"{unique_repo}-mirror"
    client.upload_blob(source, digest_of(b"other"), b"other", 5)
    data = os.urandom(300_000)
    digest = digest_of(data)
    location = client.start_upload(target, mount=digest, from_repository=source)
    assert location is not None
    seen = record_responses(client)
    token_registry.token_server.expire_next(1)

    client.upload_blob(target, digest, (data[i:i + 65536] for i in range(0, len(data), 65536)),
                       len(data), location=location)

    assert [r.status_code for r in seen].count(401) == 1
    assert get_blob(token_registry, target, digest) == data


# -- stored credentials ------------------------------------------------------------------------

def write_docker_config(config: dict) -> Path:
    path = Path(os.environ["DOCKER_CONFIG"]) / "config.json"  # the autouse state_dir's
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def helper_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "helpers"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def install_helper(directory: Path, name: str, username: str, secret: str) -> Path:
    """A ``docker-credential-<name>`` answering ``get`` like a real helper; it appends each
    server URL it is asked for to ``<name>.asked``."""
    asked = directory / f"{name}.asked"
    answer = json.dumps({"ServerURL": "", "Username": username, "Secret": secret})
    script = directory / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\n"
                      '[ "$1" = get ] || exit 1\n'
                      f"cat >> {shlex.quote(str(asked))}\n"
                      f"echo >> {shlex.quote(str(asked))}\n"
                      f"printf '%s\\n' {shlex.quote(answer)}\n")
    script.chmod(0o755)
    return asked


def client_with_stored_credentials(registry) -> RegistryClient:
    ca = str(registry.ca_file) if registry.ca_file else None
    return RegistryClient(registry.host, ca_bundle=ca)  # credentials=None: docker's config


@pytest.fixture(params=["basic_registry", "token_registry"])
def auth_registry(request):
    return request.getfixturevalue(request.param)


def test_credentials_from_auths_in_docker_config(auth_registry, unique_repo):
    auth = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    write_docker_config({"auths": {auth_registry.host: {"auth": auth}}})

    client = client_with_stored_credentials(auth_registry)

    push_small_image(client, unique_repo, "v1")
    assert list(client.tags(unique_repo)) == ["v1"]


def test_credentials_from_a_credential_helper(auth_registry, unique_repo, helper_dir):
    asked = install_helper(helper_dir, "rwtest", auth_registry.username, auth_registry.password)
    write_docker_config({"credHelpers": {auth_registry.host: "rwtest"},
                         "auths": {auth_registry.host: {}}})

    client = client_with_stored_credentials(auth_registry)

    push_small_image(client, unique_repo, "v1")
    assert list(client.tags(unique_repo)) == ["v1"]
    assert asked.read_text().split() == [auth_registry.host]


def test_no_stored_credentials_means_anonymous_and_a_login_hint(basic_registry, unique_repo):
    write_docker_config({"auths": {"elsewhere.example:5000": {"auth": "dTpw"}}})

    with pytest.raises(Unauthorized) as caught:
        list(client_with_stored_credentials(basic_registry).tags(unique_repo))

    assert f"docker login {basic_registry.host}" in str(caught.value)


def test_identity_token_from_a_helper_uses_the_refresh_token_grant(token_registry, unique_repo,
                                                                  helper_dir):
    server = token_registry.token_server
    identity_token = server.issue_identity_token("alice")
    install_helper(helper_dir, "idtest", "<token>", identity_token)
    write_docker_config({"credHelpers": {token_registry.host: "idtest"}})
    server.reset_log()

    client = client_with_stored_credentials(token_registry)
    push_small_image(client, unique_repo, "v1")

    assert list(client.tags(unique_repo)) == ["v1"]
    assert {(r.method, r.user) for r in server.requests} == {("POST", "alice")}


def test_an_unknown_identity_token_is_unauthorized(token_registry, unique_repo, helper_dir):
    install_helper(helper_dir, "idtest", "<token>", "idt-revoked-Zk3")
    write_docker_config({"credHelpers": {token_registry.host: "idtest"}})

    with pytest.raises(Unauthorized) as caught:
        list(client_with_stored_credentials(token_registry).tags(unique_repo))

    assert f"docker login {token_registry.host}" in str(caught.value)
    assert_no_secret(caught.value, "idt-revoked-Zk3")


def test_auths_keyed_by_url_are_found(basic_registry, unique_repo):
    """`docker login https://host` stores the URL as the key; an image written by the
    independent oracle reads back through it."""
    image = push_image(basic_registry, unique_repo, "v1")
    auth = base64.b64encode(
        f"{basic_registry.username}:{basic_registry.password}".encode()).decode()
    write_docker_config({"auths": {f"https://{basic_registry.host}": {"auth": auth}}})

    client = client_with_stored_credentials(basic_registry)

    assert client.get_manifest(unique_repo, "v1").digest == image.digest
