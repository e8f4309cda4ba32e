"""Every folder and file the package keeps, and every environment variable it reads.

Each function reads its variable when it is called, never at import: a test sets one with
``monkeypatch.setenv`` and a notebook with ``os.environ``, and the next call sees it.

==============================  ==========================================================
Variable                        What it sets (default)
==============================  ==========================================================
``REGISTRY_WIDGETS_STATE``      the state folder: journal, declared namespaces, remembered
                                repositories and registries, policies, the tour's sample
                                app (``$XDG_STATE_HOME/registry_widgets``)
``XDG_STATE_HOME``              where the state folder goes when the above is unset
                                (``~/.local/state``)
``XDG_CACHE_HOME``              where the cache folder goes: the listing index and the
                                advisory feeds' indexes (``~/.cache``)
``REGISTRY_WIDGETS_SERVICES``   the state of ``make lab``'s services, for ``collect_garbage``
                                (``<repo>/.state/services``)
``REGISTRY_WIDGETS_NOTEBOOKS``  the notebooks ``python -m registry_widgets`` runs
                                (``<repo>/notebooks``)
``REGISTRY_WIDGETS_REGISTRY``   the registry the notebooks default to
                                (``127.0.0.1:$REGISTRY_WIDGETS_PORT``)
``REGISTRY_WIDGETS_PORT``       the port of ``make lab``'s embedded registry (``5000``)
``REGISTRY_WIDGETS_INSECURE``   hosts allowed over plain HTTP, ``a:5000,b`` (loopback only)
``REGISTRY_WIDGETS_CA_BUNDLE``  a CA file (PEM) for every registry (none: certs.d, then
                                ``REQUESTS_CA_BUNDLE``, then certifi's)
``REGISTRY_WIDGETS_CERTS_D``    a ``certs.d`` folder (``<host>/ca.crt``) searched before
                                ``/etc/docker/certs.d`` and ``~/.docker/certs.d``
``DOCKER_CONFIG``               Docker's config folder, its ``config.json`` (``~/.docker``)
==============================  ==========================================================

An empty variable counts as unset. The dev tooling reads a few of its own (``stack``:
``REGISTRY_WIDGETS_SERVICES``, ``_PORT``, ``_NO_ENGINE``; ``benchmarks``:
``REGISTRY_WIDGETS_CHROMIUM``); the package does not.

Layer 0: the standard library only, so any module may ask where things are.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "REGISTRY_WIDGETS_STATE"
SERVICES_ENV = "REGISTRY_WIDGETS_SERVICES"
NOTEBOOKS_ENV = "REGISTRY_WIDGETS_NOTEBOOKS"
REGISTRY_ENV = "REGISTRY_WIDGETS_REGISTRY"
PORT_ENV = "REGISTRY_WIDGETS_PORT"
INSECURE_ENV = "REGISTRY_WIDGETS_INSECURE"
CA_BUNDLE_ENV = "REGISTRY_WIDGETS_CA_BUNDLE"
CERTS_D_ENV = "REGISTRY_WIDGETS_CERTS_D"

DEFAULT_PORT = 5000  # the port `make lab` gives the embedded registry
APP = "registry_widgets"  # the folder name under the XDG state and cache homes

# A source checkout (this file's grandparent holds pyproject.toml) keeps the notebooks and
# the services' state beside the package.
_REPO = Path(__file__).resolve().parent.parent


def _home(*parts: str) -> Path:
    return Path(os.path.expanduser("~"), *parts)


# -- state: what the user did, kept across sessions -----------------------------------------

def state_dir() -> Path:
    """``$REGISTRY_WIDGETS_STATE``, else ``$XDG_STATE_HOME/registry_widgets``
    (``~/.local/state/registry_widgets``): the journal, declared namespaces and other state."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_STATE_HOME") or _home(".local", "state")) / APP


def journal_file() -> Path:
    """``<state_dir()>/journal.jsonl``: one JSON line per verb (and the backups of deletes)."""
    return state_dir() / "journal.jsonl"


def state_db() -> Path:
    """``<state_dir()>/state.sqlite3``: saved policies, declared namespaces, remembered
    repositories and registries (``operations.core.state``)."""
    return state_dir() / "state.sqlite3"


def policies_file() -> Path:
    """``<state_dir()>/policies.json``: where versions before ``state_db()`` kept retention,
    protected tags and usage limits (imported once from there)."""
    return state_dir() / "policies.json"


def namespaces_file() -> Path:
    """``<state_dir()>/namespaces.json``: the declared namespaces, ``{registry: [names]}``."""
    return state_dir() / "namespaces.json"


def repositories_file() -> Path:
    """``<state_dir()>/repositories.json``: repositories to list where the catalog is
    refused, ``{registry: [names]}``."""
    return state_dir() / "repositories.json"


def registries_file() -> Path:
    """``<state_dir()>/registries.json``: the registry bar's list, names only:
    ``{"registries": [{"label", "registry"}]}``."""
    return state_dir() / "registries.json"


def sample_app_dir() -> Path:
    """``<state_dir()>/sample-app``: the tour's build context (a Dockerfile and a text)."""
    return state_dir() / "sample-app"


# -- cache: rebuilt when lost, so it goes where the system may clean --------------------------

def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/registry_widgets`` (``~/.cache/registry_widgets``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or _home(".cache")) / APP


def index_file() -> Path:
    """``<cache_dir()>/index.sqlite3``: what registries held at the last listing."""
    return cache_dir() / "index.sqlite3"


def feed_cache_dir() -> Path:
    """``<cache_dir()>/feeds``: one SQLite index per advisory feed content."""
    return cache_dir() / "feeds"


# -- a source checkout: the notebooks, their runs, the embedded registry ----------------------

def services_dir() -> Path:
    """``$REGISTRY_WIDGETS_SERVICES``, else ``<repo>/.state/services`` (``./.state/services``
    outside a source checkout): where ``scripts/services`` keeps its state (as
    ``stack.services.state_root``)."""
    explicit = os.environ.get(SERVICES_ENV)
    if explicit:
        return Path(explicit).resolve()
    base = _REPO if (_REPO / "pyproject.toml").exists() else Path.cwd()
    return base / ".state" / "services"


def notebooks_dir() -> Path:
    """``$REGISTRY_WIDGETS_NOTEBOOKS``, else ``<repo>/notebooks``: what the runner runs."""
    return Path(os.environ.get(NOTEBOOKS_ENV) or _REPO / "notebooks")


def runs_dir() -> Path:
    """``runs`` in the current folder: where headless runs keep the executed notebooks,
    unless told another ``output_dir``."""
    return Path("runs")


# -- the notebooks' default registry --------------------------------------------------------

def default_registry() -> str:
    """``$REGISTRY_WIDGETS_REGISTRY``, else the embedded registry of `make lab`
    (``127.0.0.1:$REGISTRY_WIDGETS_PORT``, port 5000 by default)."""
    return (os.environ.get(REGISTRY_ENV, "").strip()
            or f"127.0.0.1:{os.environ.get(PORT_ENV, '').strip() or DEFAULT_PORT}")


# -- Docker's config and TLS ----------------------------------------------------------------

def docker_config_file(config_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where `docker login` keeps credentials: ``<config_dir>/config.json``, else
    ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (``~`` expanded)."""
    if config_dir is None:
        config_dir = os.environ.get("DOCKER_CONFIG") or _home(".docker")
    return Path(config_dir).expanduser() / "config.json"


def insecure_hosts() -> set[str]:
    """Hosts the user allows over plain HTTP: ``REGISTRY_WIDGETS_INSECURE=a:5000,b``."""
    value = os.environ.get(INSECURE_ENV, "")
    return {h.strip() for h in value.split(",") if h.strip()}


def ca_bundle() -> str | None:
    """``$REGISTRY_WIDGETS_CA_BUNDLE``: a CA file for every registry, or None when unset."""
    return os.environ.get(CA_BUNDLE_ENV) or None


def certs_d_dirs() -> list[Path]:
    """Docker's per-registry CA folders, searched in order for ``<host>/ca.crt``:
    ``$REGISTRY_WIDGETS_CERTS_D`` (when set), ``/etc/docker/certs.d``, ``~/.docker/certs.d``."""
    explicit = os.environ.get(CERTS_D_ENV)
    return ([Path(explicit)] if explicit else []) + [Path("/etc/docker/certs.d"),
                                                      _home(".docker", "certs.d")]
