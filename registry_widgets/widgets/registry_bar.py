"""``RegistryBar``: the registries a person works with: choose one, add one, remove one,
and see its state (reachable, logged in as whom, TLS or plain HTTP).

The list is remembered per user in the state store (``operations.core.state``, document
``"registries"``; names only: no credential is ever written there). Adding or removing one
changes that one entry in one transaction, so two kernels adding registries at once both
keep theirs (the older ``registries.json`` is imported once by the store). A registry's
state comes from ``check()`` (one ``GET /v2/`` with the configured credentials) in the
bar's worker thread; who it is logged in as comes from the Log in panel (in memory) or
Docker's config (``docker login``).

Imports ``credentials`` (to read the username ``docker login`` stored), ``reference``,
``operations`` and the siblings ``controls`` and ``panel``.
"""

from __future__ import annotations

import html
import warnings
from typing import Any, Mapping, Sequence

import ipywidgets as w
import traitlets

from ..credentials import credentials_for
from ..operations.core import state
from ..operations.core.clients import refresh_credentials
from ..operations.images.ibm_cloud import IBM_REGIONS, pulls_left
from ..operations.images.inspect import check
from .controls import button, text
from .messages import registry_input
from .panel import Panel


def registry_options(registries: str | Sequence[str] | Mapping[str, str]) -> list[tuple[str, str]]:
    """``(label, registry)`` pairs for the chooser: a string, a list of registries, or a
    mapping of labels (``"us-south"``) to registries (``"us.icr.io"``)."""
    if isinstance(registries, str):
        registries = [registries]
    if isinstance(registries, Mapping):
        pairs = [(str(label), str(host)) for label, host in registries.items()]
    else:
        pairs = [(str(host), str(host)) for host in registries]
    if not pairs:
        raise ValueError("give at least one registry, e.g. us.icr.io")
    return pairs


DOCUMENT = "registries"  # in the state store: {"registries": [{"label", "registry"}, ...]}


def remembered() -> list[tuple[str, str]]:
    """The registries this user added before (``[]`` when none or unreadable)."""
    try:
        data = state.read(DOCUMENT)
        return [(str(r["label"]), str(r["registry"])) for r in data.get("registries", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _entries(document: dict[str, Any]) -> list[dict[str, str]]:
    kept = document.get("registries")
    return [r for r in kept if isinstance(r, dict)] if isinstance(kept, list) else []


def remember(label: str, registry: str) -> None:
    """Add ``registry`` to the remembered list (read and written in one transaction, so
    another kernel's addition made meanwhile stays)."""
    def add(document: dict[str, Any]) -> dict[str, Any]:
        entries = _entries(document)
        if all(r.get("registry") != registry for r in entries):
            entries.append({"label": label, "registry": registry})
        return {**document, "registries": entries}
    state.update(DOCUMENT, add)


def forget(registry: str) -> None:
    """Take ``registry`` off the remembered list (the others stay, whoever added them)."""
    def drop(document: dict[str, Any]) -> dict[str, Any]:
        return {**document, "registries": [r for r in _entries(document)
                                           if r.get("registry") != registry]}
    state.update(DOCUMENT, drop)


# The bar's state in words, not exception names.
_STATE_WORDS = {"Unreachable": "down", "Unauthorized": "log in needed",
                "Denied": "access denied", "InsecureRegistry": "refused plain HTTP",
                "BadReference": "not a registry"}


def state_text(registry: str, answer: dict[str, Any] | None, error: BaseException | None,
               username: str | None, pulls: str | None = None) -> str:
    """One line for the bar: ``reachable · logged in as alice · TLS (https)``, and Docker
    Hub's ``76 of 100 pulls left (per 6 h)`` where the registry said so (``pulls``)."""
    if error is not None:
        first = str(error).split(". ")[0]
        return f"⚠ {registry}: {_STATE_WORDS.get(type(error).__name__, 'not usable')}: {first}"
    assert answer is not None
    url = str(answer.get("url") or "")
    tls = "TLS verified (https)" if url.startswith("https") else "plain HTTP"
    auth = answer.get("auth") or "none"
    who = f"logged in as {username}" if username else \
        ("anonymous" if auth == "none" else f"anonymous ({auth} auth)")
    return f"● {registry}: reachable · {who} · {tls}" + (f" · {pulls}" if pulls else "")


class RegistryBar(Panel):
    """A chooser, an Add field with its button, Remove, Check and the chosen registry's
    state (``state``, an HTML line). ``value`` is the chosen registry. ``logged_in`` maps
    registries to the username the Log in panel used (set by the Dashboard)."""

    value = traitlets.Unicode("", help="the chosen registry (host[:port])")

    def __init__(self, registries: str | Sequence[str] | Mapping[str, str], *,
                 remember_added: bool = True):
        given = registry_options(registries)
        known = [r for _, r in given]
        self._remember = remember_added
        options = given + [(label, r) for label, r in remembered() if r not in known]
        self.chooser = w.Dropdown(options=options, value=options[0][1], description="Registry",
                                  layout=w.Layout(width="18em"),
                                  style={"description_width": "initial"})
        self.chooser.add_class("rw-registry-chooser")
        self.new_registry = text("e.g. us.icr.io (Enter)", "rw-registry-new",
                                 description="add a registry",
                                 width="14em")
        self.add_button = button("Add", "rw-registry-add", icon="plus")
        self.remove_button = button("Remove", "rw-registry-remove", icon="minus")
        self.check_button = button("", "rw-registry-check", icon="plug")
        self.check_button.tooltip = "check the registry again"
        # IBM Cloud Container Registry's regions, one choice away (adds and chooses it).
        self.ibm_region = w.Dropdown(options=[("choose…", "")] + list(IBM_REGIONS.items()),
                                     value="", description="IBM Cloud region",
                                     style={"description_width": "initial"},
                                     layout=w.Layout(width="20em"))
        self.ibm_region.add_class("rw-registry-ibm-region")
        self.state = w.HTML("", layout=w.Layout(margin="0 12px 0 4px"))
        self.state.add_class("rw-registry-state")
        self.logged_in: dict[str, str] = {}
        super().__init__()
        # One line: the chooser and its state, then adding and removing, wrapping on a
        # narrow screen.
        self.children = [w.HBox([self.chooser, self.check_button, self.state, self.new_registry,
                                 self.add_button, self.remove_button, self.ibm_region],
                                layout=w.Layout(flex_flow="row wrap", align_items="center")),
                         self.message]
        self.add_class("rw-registry-bar")
        self.value = self.chooser.value
        self.chooser.observe(self.guard(self._chosen), names="value")
        self.on_click(self.add_button, self.add)
        # Enter in the box adds too. ipywidgets 8 calls on_submit deprecated in favour of
        # continuous_update=False, but that also fires when the box loses focus (a click on
        # Add would add twice); the browser still sends Enter as "submit".
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.new_registry.on_submit(lambda _box: self.guard(self.add)())
        self.on_click(self.remove_button, self.remove)
        self.on_click(self.check_button, self.recheck, background=True)
        self.ibm_region.observe(self.guard(self._region_chosen), names="value")
        self.check_later()

    def _region_chosen(self, change: dict) -> None:
        if change["new"]:
            self.new_registry.value = change["new"]
            self.ibm_region.value = ""
            self.add()

    @property
    def registries(self) -> list[str]:
        return [r for _, r in self.chooser.options]

    def _chosen(self, change: dict) -> None:
        self.value = change["new"] or ""
        self.check_later()

    def check_later(self) -> Any:
        """Check the chosen registry's state in the worker thread."""
        return self.start("check", self.check, fresh=False)

    def recheck(self) -> None:
        """The re-check button: Docker's config is read again first (``docker login`` may
        have just run), then the registry is asked."""
        self.check(relogin=True)

    def check(self, *, relogin: bool = False) -> None:
        """Ask the chosen registry whether it answers and whom it takes us for
        (``relogin``: after reading Docker's config and helpers again)."""
        registry = self.value
        if not registry:
            self.state.value = ""
            return
        self.state.value = f"<span>… checking {html.escape(registry)}</span>"
        try:
            if relogin:
                refresh_credentials(registry)
            answer, error = check(registry), None
        except Exception as e:  # noqa: BLE001 - the state line shows it; nothing is raised
            answer, error = None, e
        username = self.logged_in.get(registry)
        if username is None and error is None and answer.get("auth") not in (None, "none"):
            try:
                creds = credentials_for(registry)
            except Exception:  # noqa: BLE001 - a broken config shows as "anonymous"
                creds = None
            username = creds.username if creds and creds.username else None
        try:
            pulls = pulls_left(registry) if error is None else None
        except Exception:  # noqa: BLE001 - the allowance is a note; the state line stands
            pulls = None
        line = state_text(registry, answer, error, username, pulls)
        colour = "#b00020" if error is not None else "#1b5e20"
        if self.value == registry:  # not overtaken by another choice meanwhile
            self.state.value = f'<span style="color:{colour}">{html.escape(line)}</span>'

    def add(self) -> None:
        """Add the registry typed in ``new_registry`` and choose it."""
        typed = self.new_registry.value.strip()
        if not typed:
            raise ValueError("type a registry in the box 'add a registry' first, e.g. "
                             "us.icr.io or 127.0.0.1:5000")
        registry = registry_input(typed, where="Registry bar", box="add a registry")
        if registry not in self.registries:
            self.chooser.options = list(self.chooser.options) + [(registry, registry)]
            if self._remember:
                remember(registry, registry)
        self.new_registry.value = ""
        self.chooser.value = registry

    def remove(self) -> None:
        """Take the chosen registry off the list (nothing on the registry changes)."""
        registry = self.value
        if len(self.registries) <= 1:
            raise ValueError("keep at least one registry: add another one first")
        options = [(label, r) for label, r in self.chooser.options if r != registry]
        self.chooser.options = options
        self.chooser.value = options[0][1]
        if self._remember:
            forget(registry)
        self.message.status(f"{registry} taken off the list (the registry is unchanged)")
