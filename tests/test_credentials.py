"""Credentials are found where `docker login` left them, and never shown.

Real config files in a temporary directory and real `docker-credential-<name>` shell scripts
first on PATH; no network.
"""

from __future__ import annotations

import base64
import json
import logging
import shlex
import traceback
from pathlib import Path

import pytest

from registry_widgets.credentials import (
    Credentials,
    credentials_for,
    credentials_from,
    docker_auth_config,
)
from registry_widgets.errors import RegistryWidgetsError, Unauthorized

SECRET = "s3cret-Zq81"  # must never appear in a repr, a message or a log
TOKEN = "refresh-token-Yx42"
HUB = "https://index.docker.io/v1/"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_hidden(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and TOKEN not in text, text


def error_texts(exc: BaseException) -> list[str]:
    """Everything a user could see of an exception: str, repr and the full chained traceback."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """A Docker config directory; DOCKER_CONFIG and HOME point elsewhere so nothing leaks in."""
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "docker"
    path.mkdir()
    return path


def write_config(config_dir: Path, config: dict | str) -> Path:
    path = config_dir / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


@pytest.fixture
def helpers(tmp_path, monkeypatch):
    """Make `docker-credential-<name>` scripts in a directory first on PATH.

    ``helpers.store(name, {server_url: (username, secret)})`` answers like a real helper and
    records every server URL it was asked for in ``helpers.asked(name)``.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    class Helpers:
        def script(self, name: str, body: str) -> None:
            path = bin_dir / f"docker-credential-{name}"
            log = bin_dir / f"{name}.asked"
            path.write_text("#!/bin/sh\n"
                            '[ "$1" = get ] || exit 2\n'
                            'url=$(cat)\n'
                            f'printf "%s\\n" "$url" >> {shlex.quote(str(log))}\n'
                            + body)
            path.chmod(0o755)

        def store(self, name: str, entries: dict[str, tuple[str, str]]) -> None:
            arms = "".join(
                f"  {shlex.quote(url)}) printf '%s' "
                f"{shlex.quote(json.dumps({'ServerURL': url, 'Username': u, 'Secret': s}))}"
                "; exit 0;;\n"
                for url, (u, s) in entries.items())
            self.script(name, f'case "$url" in\n{arms}esac\n'
                              "echo 'credentials not found in native keychain'\nexit 1\n")

        def asked(self, name: str) -> list[str]:
            log = bin_dir / f"{name}.asked"
            return log.read_text().splitlines() if log.exists() else []

    return Helpers()


# --- auths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, expected", [
    ({"auth": b64(f"alice:{SECRET}")}, Credentials("alice", SECRET)),
    ({"auth": b64("alice:pa:ss")}, Credentials("alice", "pa:ss")),
    ({"auth": b64("alice:")}, Credentials("alice", "")),
    ({"username": "alice", "password": SECRET}, Credentials("alice", SECRET)),
    ({"auth": b64(f"alice:{SECRET}"), "username": "bob", "password": "x"},
     Credentials("alice", SECRET)),
    ({"identitytoken": TOKEN}, Credentials(identity_token=TOKEN)),
    ({"auth": b64("alice:"), "identitytoken": TOKEN},
     Credentials(username="alice", identity_token=TOKEN)),
    ({"auth": b64(f"alice:{SECRET}"), "email": "a@example.com"}, Credentials("alice", SECRET)),
    ({}, None),  # what `docker login` leaves beside a credsStore
    ({"auth": ""}, None),
    ({"username": "alice"}, None),
])
def test_auths_entry_forms(config_dir, entry, expected):
    write_config(config_dir, {"auths": {"myreg:5000": entry}})
    assert credentials_for("myreg:5000", config_dir=config_dir) == expected


MATCHING_KEYS = [
    ("myreg:5000", "myreg:5000"),
    ("https://myreg:5000", "myreg:5000"),
    ("http://myreg:5000", "myreg:5000"),
    ("myreg:5000/v2/", "myreg:5000"),
    ("https://myreg:5000/v1/", "myreg:5000"),
    ("myreg:5000", "https://myreg:5000/v2/"),
    ("MyReg.Example.com", "MyReg.Example.com"),
    ("[::1]:5000", "[::1]:5000"),
    (HUB, "docker.io"),
    (HUB, "index.docker.io"),
    (HUB, HUB),
    ("docker.io", "index.docker.io"),
    ("index.docker.io", "docker.io"),
    ("https://registry-1.docker.io/v2/", "registry-1.docker.io"),
]


@pytest.mark.parametrize("key, registry", MATCHING_KEYS)
def test_auths_keys_match_on_host_and_port(config_dir, key, registry):
    write_config(config_dir, {"auths": {key: {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_for(registry, config_dir=config_dir) == Credentials("alice", SECRET)


OTHER_KEYS = [
    ("myreg:5000", "myreg"),
    ("myreg", "myreg:5000"),
    ("myreg:5000", "myreg:5001"),
    ("other.example.com", "myreg.example.com"),
    ("myreg.example.com.evil", "myreg.example.com"),
    (HUB, "ghcr.io"),
    ("ghcr.io", "docker.io"),
    # Docker compares names, not what they resolve to: these three are other registries to
    # `docker pull` (moby ResolveAuthConfig, docker-py resolve_authconfig).
    ("MyReg.Example.com", "myreg.example.com"),
    (HUB, "registry-1.docker.io"),
    ("https://registry-1.docker.io/v2/", "docker.io"),
]


@pytest.mark.parametrize("key, registry", OTHER_KEYS)
def test_auths_keys_for_other_hosts_do_not_match(config_dir, key, registry):
    write_config(config_dir, {"auths": {key: {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_for(registry, config_dir=config_dir) is None


@pytest.mark.parametrize("key, registry", MATCHING_KEYS + OTHER_KEYS)
def test_host_matching_agrees_with_docker_py(config_dir, key, registry):
    # The oracle: docker-py's resolve_authconfig, which follows the engine's
    # ResolveAuthConfig. Whatever it picks from `auths`, we pick; nothing more.
    import docker.auth

    auths = {key: {"auth": b64(f"alice:{SECRET}")}}
    write_config(config_dir, {"auths": auths})
    config = docker.auth.AuthConfig({"auths": docker.auth.AuthConfig.parse_auth(auths)})
    theirs = docker.auth.resolve_authconfig(config, registry)
    ours = credentials_for(registry, config_dir=config_dir)
    assert (ours is not None) == (theirs is not None)
    if theirs is not None:
        assert (ours.username, ours.password) == (theirs["username"], theirs["password"])


@pytest.mark.parametrize("registry, auths", [
    ("myreg:5000", {"https://myreg:5000/v2/": {"auth": b64("old:x")},
                    "myreg:5000": {"auth": b64(f"alice:{SECRET}")}}),
    ("docker.io", {"docker.io": {"auth": b64("old:x")},
                   HUB: {"auth": b64(f"alice:{SECRET}")}}),
])
def test_the_key_docker_login_writes_wins_over_other_forms(config_dir, registry, auths):
    write_config(config_dir, {"auths": auths})
    assert credentials_for(registry, config_dir=config_dir) == Credentials("alice", SECRET)


# --- where the config file is --------------------------------------------------------------

def test_missing_or_empty_config_means_no_credentials(config_dir):
    assert credentials_for("myreg:5000", config_dir=config_dir) is None
    write_config(config_dir, "  \n")
    assert credentials_for("myreg:5000", config_dir=config_dir) is None
    write_config(config_dir, {"auths": None, "credHelpers": None, "credsStore": None})
    assert credentials_for("myreg:5000", config_dir=config_dir) is None


def test_docker_config_env_is_honoured(config_dir, monkeypatch):
    write_config(config_dir, {"auths": {"myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    assert credentials_for("myreg:5000") == Credentials("alice", SECRET)


def test_home_docker_config_is_the_default(config_dir, tmp_path):
    home_docker = tmp_path / "home" / ".docker"
    home_docker.mkdir(parents=True)
    write_config(home_docker, {"auths": {"myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_for("myreg:5000") == Credentials("alice", SECRET)


def test_config_dir_beats_docker_config_env(config_dir, tmp_path, monkeypatch):
    write_config(config_dir, {"auths": {"myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    write_config(env_dir, {"auths": {"myreg:5000": {"auth": b64("bob:other")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(env_dir))
    assert credentials_for("myreg:5000", config_dir=config_dir) == Credentials("alice", SECRET)


# --- credential helpers --------------------------------------------------------------------

@pytest.mark.parametrize("config, expected_user", [
    ({"credHelpers": {"myreg:5000": "perhost"}, "credsStore": "store",
      "auths": {"myreg:5000": {"auth": b64("fromauths:x")}}}, "fromperhost"),
    ({"credHelpers": {"https://myreg:5000": "perhost"}, "credsStore": "store"}, "fromperhost"),
    ({"credHelpers": {"other:5000": "perhost"}, "credsStore": "store",
      "auths": {"myreg:5000": {"auth": b64("fromauths:x")}}}, "fromstore"),
    ({"credsStore": "store", "auths": {"myreg:5000": {"auth": b64("fromauths:x")}}},
     "fromstore"),
    ({"credsStore": "", "auths": {"myreg:5000": {"auth": b64("fromauths:x")}}}, "fromauths"),
    ({"auths": {"myreg:5000": {"auth": b64("fromauths:x")}}}, "fromauths"),
], ids=["credHelpers-first", "credHelpers-url-key", "other-host-helper", "credsStore-next",
        "empty-credsStore", "auths-last"])
def test_credhelpers_beat_credsstore_beat_auths(config_dir, helpers, config, expected_user):
    helpers.store("perhost", {"myreg:5000": ("fromperhost", SECRET)})
    helpers.store("store", {"myreg:5000": ("fromstore", SECRET)})
    write_config(config_dir, config)
    assert credentials_for("myreg:5000", config_dir=config_dir).username == expected_user


def test_helper_without_entry_falls_back_to_auths_like_docker_py(config_dir, helpers):
    helpers.store("perhost", {})
    helpers.store("store", {"myreg:5000": ("fromstore", SECRET)})
    write_config(config_dir, {"credHelpers": {"myreg:5000": "perhost"}, "credsStore": "store",
                              "auths": {"myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_for("myreg:5000", config_dir=config_dir) == Credentials("alice", SECRET)
    assert helpers.asked("perhost") == ["myreg:5000"]
    assert helpers.asked("store") == []  # one helper per host, as docker


def test_helper_without_entry_and_no_auths_means_none(config_dir, helpers):
    helpers.store("store", {"elsewhere:5000": ("bob", SECRET)})
    write_config(config_dir, {"credsStore": "store"})
    assert credentials_for("myreg:5000", config_dir=config_dir) is None


def test_empty_answer_means_not_stored_like_docker_credential_pass(config_dir, helpers):
    helpers.script("pass", """printf '{"ServerURL":"","Username":"","Secret":""}'\n""")
    write_config(config_dir, {"credsStore": "pass"})
    assert credentials_for("myreg:5000", config_dir=config_dir) is None


@pytest.mark.parametrize("registry, server_url", [
    ("docker.io", HUB),
    ("index.docker.io", HUB),
    # docker-py (_resolve_authconfig_credstore) and the engine ask for this name as is.
    ("registry-1.docker.io", "registry-1.docker.io"),
    ("myreg:5000", "myreg:5000"),
    ("https://myreg:5000/v2/", "myreg:5000"),
])
def test_helper_is_asked_for_the_server_url_docker_login_stored(
        config_dir, helpers, registry, server_url):
    helpers.store("store", {server_url: ("alice", SECRET)})
    write_config(config_dir, {"credsStore": "store"})
    assert credentials_for(registry, config_dir=config_dir) == Credentials("alice", SECRET)
    assert helpers.asked("store") == [server_url]


def test_helper_token_username_means_identity_token(config_dir, helpers):
    helpers.store("store", {"myreg:5000": ("<token>", TOKEN)})
    write_config(config_dir, {"credsStore": "store"})
    creds = credentials_for("myreg:5000", config_dir=config_dir)
    assert creds == Credentials(identity_token=TOKEN)
    assert creds.basic_auth() is None and not creds.is_anonymous


def test_missing_helper_is_a_clear_error_without_secrets(config_dir, helpers):
    path = write_config(config_dir, {"credHelpers": {"myreg:5000": "nosuch"},
                                     "auths": {"myreg:5000": {"auth": b64(f"a:{SECRET}")}}})
    with pytest.raises(Unauthorized) as caught:
        credentials_for("myreg:5000", config_dir=config_dir)
    message = str(caught.value)
    assert "docker-credential-nosuch" in message and "myreg:5000" in message
    assert "Install docker-credential-nosuch" in message and str(path) in message
    assert caught.value.registry == "myreg:5000"
    assert_hidden(*error_texts(caught.value))


def test_failing_helper_reports_exit_code_but_not_its_output(config_dir, helpers):
    helpers.script("broken", f"echo '{SECRET}'\necho '{TOKEN}' >&2\nexit 3\n")
    write_config(config_dir, {"credsStore": "broken"})
    with pytest.raises(Unauthorized) as caught:
        credentials_for("docker.io", config_dir=config_dir)
    message = str(caught.value)
    assert "docker-credential-broken" in message and "exit code 3" in message
    assert "docker.io" in message and "credsStore" in message
    assert_hidden(*error_texts(caught.value))


@pytest.mark.parametrize("answer", [
    f"not json {SECRET}",
    json.dumps([SECRET]),
    json.dumps({"Username": "alice"}),
    json.dumps({"Username": "alice", "Secret": 12}),
])
def test_helper_answering_garbage_is_an_error_without_its_output(config_dir, helpers, answer):
    helpers.script("odd", f"printf '%s' {shlex.quote(answer)}\n")
    write_config(config_dir, {"credsStore": "odd"})
    with pytest.raises(Unauthorized, match="docker-credential-odd") as caught:
        credentials_for("myreg:5000", config_dir=config_dir)
    assert_hidden(*error_texts(caught.value))
    assert caught.value.__context__ is None  # no chained JSONDecodeError holding the answer


# --- malformed config ----------------------------------------------------------------------

@pytest.mark.parametrize("text, problem", [
    ('{"auths": {', "not valid JSON"),
    (f'{{"auths": {{"myreg:5000": {{"auth": "{SECRET}"', "not valid JSON"),
    ("[]", "top level is not a JSON object"),
    ('{"auths": []}', "'auths' is not a JSON object"),
    ('{"credHelpers": ["x"]}', "'credHelpers' is not a JSON object"),
    ('{"credsStore": 3}', "'credsStore' is not a string"),
    ('{"credHelpers": {"myreg:5000": 3}}', "not a credential helper name"),
    ('{"credHelpers": {"myreg:5000": "../../bin/sh"}}', "not a credential helper name"),
    ('{"auths": {"myreg:5000": "x"}}', "auths['myreg:5000'] is not a JSON object"),
    ('{"auths": {"myreg:5000": {"auth": "%s"}}}' % SECRET, "base64"),
    ('{"auths": {"myreg:5000": {"auth": "%s"}}}' % b64(f"nocolon{SECRET}"), "base64"),
    ('{"auths": {"myreg:5000": {"auth": "%s"}}}' % b64(f":{SECRET}"), "base64"),
    ('{"auths": {"myreg:5000": {"password": 5}}}', "'password' is not a string"),
])
def test_malformed_config_is_a_clear_error_naming_the_file(config_dir, text, problem):
    path = write_config(config_dir, text)
    with pytest.raises(Unauthorized) as caught:
        credentials_for("myreg:5000", config_dir=config_dir)
    message = str(caught.value)
    assert str(path) in message and problem in message and "myreg:5000" in message
    assert_hidden(*error_texts(caught.value))


def test_malformed_entry_for_another_registry_does_not_block_this_one(config_dir):
    write_config(config_dir, {"auths": {"other:5000": {"auth": "!!"},
                                        "myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_for("myreg:5000", config_dir=config_dir) == Credentials("alice", SECRET)


@pytest.mark.parametrize("registry", ["", "   ", None])
def test_a_registry_is_required(config_dir, registry):
    with pytest.raises(ValueError):
        credentials_for(registry, config_dir=config_dir)


# --- Credentials itself --------------------------------------------------------------------

@pytest.mark.parametrize("creds, shown", [
    (Credentials("alice", SECRET), "Credentials(username='alice', password=<hidden>)"),
    (Credentials(identity_token=TOKEN), "Credentials(identity_token=<hidden>)"),
    (Credentials("alice", identity_token=TOKEN),
     "Credentials(username='alice', identity_token=<hidden>)"),
    (Credentials.anonymous(), "Credentials(<anonymous>)"),
])
def test_repr_and_str_hide_secrets(creds, shown):
    assert repr(creds) == shown and str(creds) == shown
    assert_hidden(f"{creds}", f"{creds!r}", repr([creds]), repr({"c": creds}))


@pytest.mark.parametrize("creds, basic, anonymous", [
    (Credentials("alice", SECRET), ("alice", SECRET), False),
    (Credentials("alice", ""), ("alice", ""), False),
    (Credentials(identity_token=TOKEN), None, False),
    (Credentials("alice"), None, True),
    (Credentials.anonymous(), None, True),
])
def test_basic_auth_and_is_anonymous(creds, basic, anonymous):
    assert creds.basic_auth() == basic
    assert creds.is_anonymous is anonymous


def test_credentials_are_frozen_and_typed():
    creds = Credentials("alice", SECRET)
    with pytest.raises(AttributeError):
        creds.password = "other"  # type: ignore[misc]
    with pytest.raises(TypeError) as caught:
        Credentials("alice", 12345)  # type: ignore[arg-type]
    assert "password" in str(caught.value) and "12345" not in str(caught.value)


@pytest.mark.parametrize("creds, auth_config", [
    (Credentials("alice", SECRET), {"username": "alice", "password": SECRET}),
    (Credentials("alice", identity_token=TOKEN), {"identitytoken": TOKEN}),
    (Credentials(identity_token=TOKEN), {"identitytoken": TOKEN}),
    (Credentials("alice"), None),
    (Credentials.anonymous(), None),
    (None, None),
])
def test_docker_auth_config_shapes(creds, auth_config):
    assert docker_auth_config(creds) == auth_config


# --- credentials_from ----------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (Credentials("alice", SECRET), Credentials("alice", SECRET)),
    (("alice", SECRET), Credentials("alice", SECRET)),
    (["alice", SECRET], Credentials("alice", SECRET)),
    ({"username": "alice", "password": SECRET}, Credentials("alice", SECRET)),
    ({"username": "alice", "password": SECRET, "serveraddress": "myreg:5000"},
     Credentials("alice", SECRET)),
    ({"auth": b64(f"alice:{SECRET}")}, Credentials("alice", SECRET)),
    ({"identitytoken": TOKEN}, Credentials(identity_token=TOKEN)),
    ({"identity_token": TOKEN}, Credentials(identity_token=TOKEN)),
])
def test_credentials_from_normalises_explicit_values(config_dir, value, expected):
    write_config(config_dir, {"auths": {"myreg:5000": {"auth": b64("fromconfig:x")}}})
    assert credentials_from(value, "myreg:5000", config_dir=config_dir) == expected


def test_credentials_from_none_looks_in_docker_config(config_dir):
    write_config(config_dir, {"auths": {"myreg:5000": {"auth": b64(f"alice:{SECRET}")}}})
    assert credentials_from(None, "myreg:5000", config_dir=config_dir) == \
        Credentials("alice", SECRET)
    assert credentials_from(None, "other:5000", config_dir=config_dir) == \
        Credentials.anonymous()


@pytest.mark.parametrize("value, error", [
    (SECRET, TypeError),
    (("alice", SECRET, "x"), TypeError),
    (("alice", 5), TypeError),
    ({"user": "alice", "pass": SECRET}, ValueError),
    ({"auth": SECRET}, ValueError),
])
def test_credentials_from_rejects_other_values_without_showing_them(config_dir, value, error):
    with pytest.raises(error) as caught:
        credentials_from(value, "myreg:5000", config_dir=config_dir)
    assert not isinstance(caught.value, RegistryWidgetsError)
    assert_hidden(*error_texts(caught.value))


# --- logging -------------------------------------------------------------------------------

def test_debug_log_names_the_source_never_the_secret(config_dir, helpers, caplog):
    helpers.store("perhost", {"myreg:5000": ("alice", SECRET)})
    write_config(config_dir, {"credHelpers": {"myreg:5000": "perhost"},
                              "auths": {"other:5000": {"auth": b64(f"bob:{SECRET}")}}})
    with caplog.at_level(logging.DEBUG, logger="registry_widgets"):
        credentials_for("myreg:5000", config_dir=config_dir)
        credentials_for("other:5000", config_dir=config_dir)
    assert "credentials for myreg:5000 from credHelpers['myreg:5000'] 'perhost'" in caplog.text
    assert "credentials for other:5000 from auths" in caplog.text
    assert_hidden(caplog.text)


def test_hanging_helper_times_out_with_a_clear_error(config_dir, helpers, monkeypatch):
    monkeypatch.setattr("registry_widgets.credentials.HELPER_TIMEOUT", 0.2)
    helpers.script("slow", "exec sleep 5\n")
    write_config(config_dir, {"credsStore": "slow"})
    expected = r"docker-credential-slow .*did not answer within 0.2 s"
    with pytest.raises(Unauthorized, match=expected) as caught:
        credentials_for("myreg:5000", config_dir=config_dir)
    assert caught.value.__context__ is None  # TimeoutExpired would carry partial output


def test_helper_that_cannot_execute_is_a_clear_error(config_dir, helpers, tmp_path):
    helper = tmp_path / "bin" / "docker-credential-noexec"
    helper.write_bytes(b"\x7fELF not really")
    helper.chmod(0o755)
    write_config(config_dir, {"credsStore": "noexec"})
    with pytest.raises(Unauthorized, match=r"docker-credential-noexec .*could not run \(Exec"):
        credentials_for("myreg:5000", config_dir=config_dir)
