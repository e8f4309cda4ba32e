"""Messages that say what the user supplied, and timeouts that end.

One row per case, against real registries (Basic over HTTPS, token auth, plain HTTP) and,
for what real servers do not do on demand, a ``FaultProxy`` (a redirect loop, a slow blob) or
a socket that accepts and never answers. Each message names the registry and what the user
gave: the source of refused credentials, the CA file, the scheme.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import certifi
import pytest

import registry_widgets as rw
from registry_widgets.transport import auth
from registry_widgets.transport.auth import DEFAULT_TOKEN_LIFETIME, _lifetime
from registry_widgets.errors import (ConfigurationError, ProtocolError, Unauthorized,
                                     Unreachable)
from registry_widgets.operations.core import clients
from registry_widgets.registry import RegistryClient
from tests.support import push_image
from tests.support.faultproxy import Respond, Throttle

pytest_plugins = ["faults_fixtures"]

WRONG = "wrong-Pw-81x"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def docker_config(config: dict) -> Path:
    path = Path(os.environ["DOCKER_CONFIG"], "config.json")
    path.write_text(json.dumps(config))
    return path


def _message(call) -> tuple[type, str]:
    with pytest.raises(rw.RegistryWidgetsError) as caught:
        call()
    return type(caught.value), str(caught.value)


# -- refused credentials name their source ------------------------------------------------------

def test_a_wrong_configured_password_says_it_was_refused_and_where_it_came_from(basic_registry):
    rw.configure(basic_registry.host, credentials=(basic_registry.username, WRONG),
                 ca_bundle=str(basic_registry.ca_file))
    kind, message = _message(lambda: rw.images(basic_registry.host))
    assert kind is Unauthorized
    assert f"refused the credentials for user {basic_registry.username!r}" in message
    assert "from configure()" in message and "docker login" in message
    assert "Log in first" not in message and WRONG not in message


def test_a_wrong_password_from_config_json_names_the_file_and_entry(basic_registry):
    path = docker_config({"auths": {basic_registry.host: {
        "auth": b64(f"{basic_registry.username}:{WRONG}")}}})
    rw.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    kind, message = _message(lambda: rw.images(basic_registry.host))
    assert kind is Unauthorized
    assert f"from {path} (auths[{basic_registry.host!r}])" in message, message


def test_a_wrong_password_from_a_credential_helper_names_the_helper(basic_registry, tmp_path,
                                                                   monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-teststore"
    answer = json.dumps({"Username": basic_registry.username, "Secret": WRONG})
    helper.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '%s' '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    docker_config({"credHelpers": {basic_registry.host: "teststore"}})
    rw.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    kind, message = _message(lambda: rw.images(basic_registry.host))
    assert kind is Unauthorized
    assert f"(credHelpers[{basic_registry.host!r}]: docker-credential-teststore)" in message


def test_a_token_server_refusal_names_the_source(token_registry):
    path = docker_config({"auths": {token_registry.host: {"auth": b64(f"alice:{WRONG}")}}})
    kind, message = _message(lambda: rw.images(token_registry.host))
    assert kind is Unauthorized
    assert "refused to log in as 'alice'" in message
    assert f"from {path} (auths[{token_registry.host!r}])" in message


def test_a_token_expired_at_issue_is_named_as_clock_skew(token_registry):
    rw.configure(token_registry.host, credentials=token_registry.auth)
    token_registry.token_server.expire_next(10)
    kind, message = _message(lambda: rw.images(token_registry.host))
    assert kind is Unauthorized
    assert "had already expired when it arrived" in message and "clock" in message


def test_docker_login_after_a_refusal_works_without_a_restart(basic_registry, unique_repo,
                                                              monkeypatch):
    monkeypatch.setattr(auth, "RELOAD_INTERVAL", 0.5)
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed="relogin")
    docker_config({"auths": {basic_registry.host: {
        "auth": b64(f"{basic_registry.username}:{WRONG}")}}})
    rw.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    with pytest.raises(Unauthorized):
        rw.images(basic_registry.host, repositories=[unique_repo])
    time.sleep(0.6)  # the config is re-read at most every RELOAD_INTERVAL
    # `docker login` again, with the right password; the same client, then Refresh.
    docker_config({"auths": {basic_registry.host: {"auth": b64(
        f"{basic_registry.username}:{basic_registry.password}")}}})
    table = rw.images(basic_registry.host, repositories=[unique_repo])
    assert list(table["tag"]) == ["1"]


def test_docker_login_after_a_token_server_refusal_works_without_a_restart(
        token_registry, unique_repo, monkeypatch):
    monkeypatch.setattr(auth, "RELOAD_INTERVAL", 0.5)
    push_image(token_registry, unique_repo, "1", layer_sizes=(100,), seed="relogin-token")
    docker_config({"auths": {token_registry.host: {"auth": b64(f"alice:{WRONG}")}}})
    with pytest.raises(Unauthorized, match="refused to log in"):
        rw.images(token_registry.host, repositories=[unique_repo])
    time.sleep(0.6)
    user, password = token_registry.auth
    docker_config({"auths": {token_registry.host: {"auth": b64(f"{user}:{password}")}}})
    assert list(rw.images(token_registry.host, repositories=[unique_repo])["tag"]) == ["1"]


# -- TLS: what the user supplied ---------------------------------------------------------------

def test_a_missing_ca_file_is_refused_at_configure(basic_registry, tmp_path):
    missing = tmp_path / "nope" / "ca.crt"
    with pytest.raises(ConfigurationError, match=f"the CA file {missing} .*does not exist"):
        rw.configure(basic_registry.host, ca_bundle=str(missing))
    with pytest.raises(ConfigurationError, match="does not exist"):
        RegistryClient(basic_registry.host, ca_bundle=str(missing))


def test_a_ca_file_that_is_not_pem_says_so(basic_registry, tmp_path):
    der = tmp_path / "ca.der"
    der.write_bytes(base64.b64decode(
        basic_registry.ca_file.read_text().split("-----")[2].replace("\n", "")))
    with pytest.raises(ConfigurationError, match=f"the CA file {der} .*is not PEM.*openssl"):
        rw.configure(basic_registry.host, ca_bundle=str(der))


def test_a_ca_file_that_did_not_sign_the_registry_is_named(basic_registry):
    client = RegistryClient(basic_registry.host, credentials=basic_registry.auth,
                            ca_bundle=certifi.where())
    kind, message = _message(client.ping)
    assert kind is Unreachable
    assert f"not signed by the CA file {certifi.where()} (from ca_bundle=" in message


def test_https_to_a_plain_http_registry_says_it_speaks_plain_http(registry):
    kind, message = _message(lambda: rw.images(f"https://{registry.host}"))
    assert kind is Unreachable
    assert f"{registry.host} speaks plain HTTP, not TLS" in message
    assert f"http://{registry.host}" in message


def test_http_to_a_tls_registry_says_it_speaks_tls(basic_registry):
    kind, message = _message(lambda: rw.images(f"http://{basic_registry.host}"))
    assert kind is Unreachable
    assert f"{basic_registry.host} speaks TLS, not plain HTTP" in message
    assert f"https://{basic_registry.host}" in message and "HTTP 400" in message


def test_clients_are_kept_per_scheme(registry, unique_repo):
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="scheme")
    assert list(rw.images(registry.host, repositories=[unique_repo])["tag"]) == ["1"]
    # An explicit scheme is not answered by the client that settled on plain HTTP.
    with pytest.raises(Unreachable, match="speaks plain HTTP"):
        rw.images(f"https://{registry.host}", repositories=[unique_repo])
    assert clients.client_for(f"https://{registry.host}") is not \
        clients.client_for(registry.host)


# -- configure() checks everything at once ------------------------------------------------------

def test_configure_lists_every_problem_at_once_and_keeps_the_old_configuration(registry,
                                                                             unique_repo):
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed="configure")
    rw.configure(registry.host, retries=1)
    with pytest.raises(ConfigurationError) as caught:
        rw.configure(registry.host, ca_bundel="/x", retries="3", timeout=(1, -1),
                     insecure="yes", credentials=("alice",))
    message = str(caught.value)
    for part in ("unknown option 'ca_bundel' (did you mean 'ca_bundle'?)",
                 "retries must be", "timeout must be", "insecure must be True or False",
                 "credentials: credentials as a sequence must be (username, password)",
                 "was not applied"):
        assert part in message, part
    assert isinstance(caught.value, (TypeError, ValueError))
    assert clients.client_for(registry.host).transport.retries == 1
    assert list(rw.images(registry.host, repositories=[unique_repo])["tag"]) == ["1"]


# The values are ones no port, count or option name can contain (a registry on port 42883
# once made a check for "42" fail), so finding them in the message means it showed them.
SHOWN_IF_LEAKED = ("s3cr3t", "7340251983")


@pytest.mark.parametrize("credentials", [7340251983, {"user": "s3cr3t-user"},
                                         ("a", "s3cr3t-b", "c"), ("a", 7340251983)])
def test_configure_refuses_a_credentials_shape_without_showing_it(registry, credentials):
    with pytest.raises(ConfigurationError, match="credentials: ") as caught:
        rw.configure(registry.host, credentials=credentials)
    for value in SHOWN_IF_LEAKED:
        assert value not in str(caught.value)


# -- redirects and timeouts ---------------------------------------------------------------------

def test_a_redirect_loop_is_a_protocol_error(faulty_registry, unique_repo):
    push_image(faulty_registry.registry, unique_repo, "1", layer_sizes=(100,), seed="loop")
    faulty_registry.add_rule("GET", "/manifests/1", Respond(
        302, headers={"Location": f"/v2/{unique_repo}/manifests/1"}), times=None)
    kind, message = _message(lambda: rw.inspect(f"{faulty_registry.host}/{unique_repo}:1"))
    assert kind is ProtocolError
    assert "redirected" in message and "more than 10 times" in message


@pytest.fixture
def silent_server():
    """Accepts connections and never answers; counts them."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_silent_server_fails_after_the_first_byte_timeout_retried_once(silent_server):
    host, accepted = silent_server
    rw.configure(f"http://{host}", timeout=(1.0, 0.5), retries=4, backoff=0.01)
    started = time.monotonic()
    kind, message = _message(lambda: rw.inspect(f"{host}/app:1"))
    assert kind is Unreachable and "did not answer in time" in message and host in message
    assert len(accepted) == 2  # tried twice, not retries + 1 times
    assert time.monotonic() - started >= 1.0  # two 0.5 s waits for a first byte


def test_a_slow_blob_streams_past_the_read_timeout(faulty_registry, unique_repo):
    image = push_image(faulty_registry.registry, unique_repo, "1", layer_sizes=(400_000,),
                       seed="slow")
    layer = image.layers[0]
    rw.configure(faulty_registry.url, timeout=(2.0, 1.0), retries=0)
    faulty_registry.add_rule("GET", f"/blobs/{layer.digest}",
                             Throttle(bytes_per_second=200_000))
    client = clients.client_for(faulty_registry.host)
    started = time.monotonic()
    data = client.get_blob(unique_repo, layer.digest)
    assert len(data) == layer.size
    assert time.monotonic() - started > 1.0  # the whole blob took longer than one timeout


@pytest.mark.parametrize("expires_in, lifetime", [
    (300, 300.0), ("300", 300.0), (None, DEFAULT_TOKEN_LIFETIME),
    ({"x": 1}, DEFAULT_TOKEN_LIFETIME), ([5], DEFAULT_TOKEN_LIFETIME),
    ("soon", DEFAULT_TOKEN_LIFETIME), (-5, DEFAULT_TOKEN_LIFETIME),
    (True, DEFAULT_TOKEN_LIFETIME), (float("nan"), DEFAULT_TOKEN_LIFETIME),
])
def test_a_token_lifetime_the_server_garbled_is_the_documented_default(expires_in, lifetime):
    assert _lifetime(expires_in) == lifetime
