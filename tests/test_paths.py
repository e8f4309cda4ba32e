"""``paths``: the defaults every folder had before it moved there, and the variables that
move them, read when called (tests and notebooks set them after the import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_widgets import journal_path, paths

VARIABLES = ("REGISTRY_WIDGETS_STATE", "XDG_STATE_HOME", "XDG_CACHE_HOME", "DOCKER_CONFIG",
             "REGISTRY_WIDGETS_SERVICES", "REGISTRY_WIDGETS_NOTEBOOKS",
             "REGISTRY_WIDGETS_REGISTRY", "REGISTRY_WIDGETS_PORT", "REGISTRY_WIDGETS_INSECURE",
             "REGISTRY_WIDGETS_CA_BUNDLE", "REGISTRY_WIDGETS_CERTS_D")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variable set (an empty one counts as unset), HOME a fresh folder."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_defaults(bare: Path) -> None:
    state = bare / ".local" / "state" / "registry_widgets"
    cache = bare / ".cache" / "registry_widgets"
    assert paths.state_dir() == state
    assert paths.journal_file() == state / "journal.jsonl" == journal_path()
    assert paths.policies_file() == state / "policies.json"
    assert paths.namespaces_file() == state / "namespaces.json"
    assert paths.repositories_file() == state / "repositories.json"
    assert paths.registries_file() == state / "registries.json"
    assert paths.sample_app_dir() == state / "sample-app"
    assert paths.cache_dir() == cache
    assert paths.index_file() == cache / "index.sqlite3"
    assert paths.feed_cache_dir() == cache / "feeds"
    assert paths.services_dir() == REPO / ".state" / "services"
    assert paths.notebooks_dir() == REPO / "notebooks"
    assert paths.runs_dir() == Path("runs")
    assert paths.default_registry() == "127.0.0.1:5000"
    assert paths.docker_config_file() == bare / ".docker" / "config.json"
    assert paths.insecure_hosts() == set()
    assert paths.ca_bundle() is None
    assert paths.certs_d_dirs() == [Path("/etc/docker/certs.d"), bare / ".docker" / "certs.d"]


def test_each_variable_is_read_when_called(bare: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert paths.journal_file() == tmp_path / "xdg-state" / "registry_widgets" / "journal.jsonl"
    monkeypatch.setenv(paths.STATE_ENV, str(tmp_path / "state"))  # wins over XDG_STATE_HOME
    assert paths.journal_file() == tmp_path / "state" / "journal.jsonl" == journal_path()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.index_file() == tmp_path / "cache" / "registry_widgets" / "index.sqlite3"
    monkeypatch.setenv(paths.SERVICES_ENV, str(tmp_path / "services"))
    assert paths.services_dir() == (tmp_path / "services").resolve()
    monkeypatch.setenv(paths.NOTEBOOKS_ENV, str(tmp_path / "nb"))
    assert paths.notebooks_dir() == tmp_path / "nb"
    monkeypatch.setenv(paths.PORT_ENV, " 5055 ")
    assert paths.default_registry() == "127.0.0.1:5055"
    monkeypatch.setenv(paths.REGISTRY_ENV, " registry.test ")
    assert paths.default_registry() == "registry.test"
    monkeypatch.setenv("DOCKER_CONFIG", "~/elsewhere")
    assert paths.docker_config_file() == bare / "elsewhere" / "config.json"
    assert paths.docker_config_file(tmp_path) == tmp_path / "config.json"  # given wins
    monkeypatch.setenv(paths.INSECURE_ENV, "a.test:5000, b.test,,")
    assert paths.insecure_hosts() == {"a.test:5000", "b.test"}
    monkeypatch.setenv(paths.CA_BUNDLE_ENV, "/ca.pem")
    assert paths.ca_bundle() == "/ca.pem"
    monkeypatch.setenv(paths.CERTS_D_ENV, str(tmp_path / "certs.d"))
    assert paths.certs_d_dirs()[0] == tmp_path / "certs.d"
