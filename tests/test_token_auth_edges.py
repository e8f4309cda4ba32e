"""Token auth when the token server misbehaves: one clear error that names the registry.

A real distribution registry with ``auth: token`` in front; the tests' token server is made to
fail on purpose (stopped, a fixed non-token answer, HTTPS with a private CA), and a challenge
without a realm comes from a ``FaultProxy`` in front of the registry.
"""

from __future__ import annotations

import pytest

from registry_widgets.errors import ProtocolError, Unreachable
from registry_widgets.registry import RegistryClient
from tests.support import RawClient, TokenServer, push_image, start_registry
from tests.support.faultproxy import FaultProxy, Respond


def alice(registry, **options) -> RegistryClient:
    return RegistryClient(registry.host, credentials=registry.auth, retries=0, **options)


def test_a_token_server_that_is_down_is_unreachable_naming_the_realm(registry_factory,
                                                                      unique_repo):
    reg = registry_factory("token")
    realm = reg.token_server.realm
    reg.token_server.stop()
    try:
        with pytest.raises(Unreachable) as caught:
            list(alice(reg).tags(unique_repo))
    finally:
        reg.token_server.start()
    message = str(caught.value)
    assert realm in message and reg.host in message and "did not answer" in message
    assert caught.value.registry == reg.host


@pytest.mark.parametrize("answer, words", [
    ((200, "text/html", b"<html><body>Sign in</body></html>"), ("not a token", "JSON expected")),
    ((200, "application/json", b"[1, 2, 3]"), ("not a token", "JSON expected")),
    ((200, "application/json", b"{}"), ("without a token",)),
    ((200, "application/json", b'{"token": "", "access_token": null}'), ("without a token",)),
    ((500, "application/json", b'{"error": "boom"}'), ("answered HTTP 500",)),
], ids=["html page", "a JSON list", "no token", "empty token", "HTTP 500"])
def test_a_token_server_answer_that_is_not_a_token_is_a_protocol_error(token_registry,
                                                                        unique_repo, answer,
                                                                        words):
    token_registry.token_server.answer = answer
    try:
        with pytest.raises(ProtocolError) as caught:
            list(alice(token_registry).tags(unique_repo))
    finally:
        token_registry.token_server.answer = None
    message = str(caught.value)
    assert all(word in message for word in words), message
    assert token_registry.token_server.realm in message
    assert caught.value.registry == token_registry.host
    assert token_registry.password not in message


def test_a_bearer_challenge_without_a_realm_is_a_protocol_error(token_registry, unique_repo):
    with FaultProxy.in_front_of(token_registry) as proxy:
        proxy.add_rule(None, r"^/v2/", Respond(401, b'{"errors": []}', headers={
            "WWW-Authenticate": 'Bearer service="registry-widgets",scope="registry:catalog:*"'}),
            times=None)
        client = RegistryClient(proxy.host, credentials=token_registry.auth, retries=0)
        with pytest.raises(ProtocolError) as caught:
            list(client.tags(unique_repo))
    assert "without a realm" in str(caught.value) and proxy.host in str(caught.value)


@pytest.fixture(scope="module")
def https_realm(tmp_path_factory):
    """A token registry whose realm is HTTPS, signed by a private CA (``ca_file``)."""
    state = tmp_path_factory.mktemp("https-realm")
    server = TokenServer(users={"alice": "a-Pw-9f2k"}, grants={"alice": {"*": ["*"]}},
                         state_dir=state / "token", https=True).start()
    reg = start_registry("token", token_server=server, state_dir=state / "registry")
    try:
        yield reg
    finally:
        reg.close()
        server.stop()


def test_an_https_realm_with_the_private_ca_works(https_realm, unique_repo):
    reg = https_realm
    assert reg.token_server.realm.startswith("https://")
    oracle = RawClient(reg)
    oracle.verify = str(reg.token_server.ca_file)  # the oracle needs the realm's CA too
    image = push_image(reg, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo,
                       client=oracle)

    client = alice(reg, ca_bundle=str(reg.token_server.ca_file))

    assert list(client.tags(unique_repo)) == ["1.0"]
    assert client.get_manifest(unique_repo, "1.0").digest == image.digest


def test_an_https_realm_without_its_ca_fails_on_tls_and_says_so(https_realm, unique_repo):
    with pytest.raises(Unreachable) as caught:
        list(alice(https_realm).tags(unique_repo))
    message = str(caught.value)
    assert https_realm.token_server.realm in message and https_realm.host in message
    assert "TLS" in message and "ca_bundle" in message
