"""Secrets never leave memory: not into logs, the journal, exceptions, widget state or reprs.

Credentials with a distinctive secret (``S3cr3t-<uuid>``) are given every way a user gives them:
``configure(host, credentials=(user, secret), ca_bundle=...)``, a ``DOCKER_CONFIG``
``config.json`` ``auths`` entry, and a token registry's identity token (from ``configure`` and
from ``config.json``). Then every verb runs, on success and failure paths, including a wrong
password whose own value is a needle too; every button of ImageTable, NamespaceTable,
BuildPanel and Dashboard is clicked; the engine verbs push and pull with the same credentials.
All the while every logger (root, ``registry_widgets``, ``urllib3``, ``docker``) records at
DEBUG, and stdout/stderr are captured.

Then the haystack is searched for the secret, its base64, the base64 of ``user:secret`` (what
a Basic header and ``auths.auth`` carry) and the identity token: captured logs and output, the
journal file, every exception's str, repr and formatted traceback (with its chain), the state
of every widget alive (``get_state()``, walked from the roots and over every instance), the
reprs of clients, transports, authenticators, session headers and credentials, and every
``Result.to_dict()``. One hit fails. Executed notebooks are swept in ``test_notebooks.py``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
from ipywidgets.widgets.widget import _instances as live_widgets

import registry_widgets as rw
from registry_widgets.credentials import credentials_from
from registry_widgets.operations.core import clients, journal
from devstack import LocalRegistry
from tests.support import push_image, push_index, start_registry

USER = "alice"
SECRET = f"S3cr3t-{uuid.uuid4()}"
WRONG = f"Wr0ng-{uuid.uuid4()}"  # a wrong password is a secret too
FIXED_TIME = "2024-01-01T00:00:00Z"
LOGGERS = ("", "registry_widgets", "urllib3", "docker", "requests")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def needles(*secrets: str) -> dict[str, str]:
    found = {}
    for secret in secrets:
        found[f"the secret {secret[:6]}…"] = secret
        found[f"base64 of the secret {secret[:6]}…"] = b64(secret)
        found[f"base64 of {USER}:{secret[:6]}…"] = b64(f"{USER}:{secret}")
        # Inside any longer base64 string (another user's Basic header, a JSON blob): the
        # secret encodes one of three ways, by its offset modulo 3; the edges depend on the
        # neighbours, the middle does not.
        for offset in range(3):
            found[f"base64 of {secret[:6]}… at offset {offset}"] = \
                b64("\0" * offset + secret)[4:-4]
    return found


# -- the haystack --------------------------------------------------------------------------------

class Haystack(logging.Handler):
    """Everything a secret could leak into, gathered while the test runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[tuple[str, str]] = []
        self.log_records = 0
        self.exceptions = 0
        self.widgets_before = set(live_widgets)  # other tests' widgets are not ours to sweep

    def emit(self, record: logging.LogRecord) -> None:
        self.log_records += 1
        self.add(f"log {record.name}", self.format(record))
        self.add(f"log args {record.name}", repr(record.args))

    def add(self, where: str, text: Any) -> None:
        self.texts.append((where, text if isinstance(text, str) else repr(text)))

    def exception(self, where: str, error: BaseException) -> None:
        self.exceptions += 1
        self.add(f"str({where})", str(error))
        self.add(f"repr({where})", repr(error))
        self.add(f"traceback({where})", "".join(traceback.format_exception(error)))
        for name, value in vars(error).items():
            self.add(f"{where}.{name}", repr(value))

    def value(self, where: str, value: Any) -> None:
        if isinstance(value, rw.Result):
            self.add(f"{where} Result.to_dict()", json.dumps(value.to_dict(), default=str))
            self.add(f"{where} summary", value.summary())
        elif hasattr(value, "to_dict"):  # DataFrames, plans
            self.add(f"{where} to_dict()", json.dumps(value.to_dict(), default=str))
        self.add(f"repr({where})", repr(value))

    def hits(self, secrets: dict[str, str]) -> list[str]:
        return [f"{name} in {where}: …{text[max(0, text.find(secret) - 60):][:160]}…"
                for where, text in self.texts for name, secret in secrets.items()
                if secret in text]


@pytest.fixture
def haystack(capfd) -> Iterator[Haystack]:
    stack = Haystack()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    logging.getLogger().addHandler(stack)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield stack
    finally:
        for model_id in set(live_widgets) - stack.widgets_before:
            widget = live_widgets.get(model_id)
            if widget is not None:
                widget.close()
        logging.getLogger().removeHandler(stack)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        out, err = capfd.readouterr()
        stack.add("stdout", out)
        stack.add("stderr", err)


def succeed(stack: Haystack, where: str, call: Callable[[], Any]) -> Any:
    """Run an action that must work; its result joins the haystack. If it raises, its text is
    still swept (a leak is reported too) and the test fails: a success path that quietly failed
    would leave the secrets in it unexamined."""
    try:
        value = call()
    except Exception as error:
        stack.exception(where, error)
        leaks = stack.hits(needles(SECRET, WRONG))
        pytest.fail(f"{where} should succeed but raised {type(error).__name__}"
                    + (f"; and leaked: {leaks}" if leaks else f": {error}"))
    stack.value(where, value)
    return value


def attempt(stack: Haystack, where: str, call: Callable[[], Any]) -> Any:
    """Run one action; keep its result or its exception in the haystack."""
    try:
        value = call()
    except Exception as error:  # noqa: BLE001 - failure paths are part of the sweep
        stack.exception(where, error)
        return None
    stack.value(where, value)
    return value


def sweep_everything(stack: Haystack, hosts: list[str]) -> None:
    """The last things to look at: widgets alive, clients, credentials, the journal."""
    roots = []
    for model_id, widget in list(live_widgets.items()):
        if model_id in stack.widgets_before:
            continue
        stack.add(f"state of {type(widget).__name__} {model_id}",
                  json.dumps(widget.get_state(), default=repr))
        error = getattr(widget, "last_error", None)
        if isinstance(error, BaseException):
            stack.exception(f"{type(widget).__name__}.last_error", error)
        roots.append(widget)
    for root in roots:  # the same states reached the way a front end does, through children
        if not isinstance(root, (rw.ImageTable, rw.NamespaceTable, rw.BuildPanel, rw.Dashboard)):
            continue
        for widget in walk(root):
            stack.add(f"child state of {type(widget).__name__}",
                      json.dumps(widget.get_state(), default=repr))
    for host in hosts:
        client = clients.client_for(host)
        for thing in (client, client.transport, client.transport.auth,
                      dict(client.transport.session.headers), client.transport.session.auth,
                      client.transport.stats):
            stack.add(f"repr of {type(thing).__name__} for {host}", repr(thing))
        for creds in (credentials_from(None, host),
                      client.transport.auth._credentials):  # noqa: SLF001 - its repr is the surface
            stack.add(f"repr/str of credentials for {host}", repr(creds) + str(creds))
    path = journal.journal_path()
    stack.add("journal", path.read_text() if path.exists() else "")


def walk(widget: w.Widget) -> Iterator[w.Widget]:
    yield widget
    for child in getattr(widget, "children", ()) or ():
        if isinstance(child, w.Widget):
            yield from walk(child)


# -- registries that know the secret -------------------------------------------------------------

@pytest.fixture(scope="module")
def basic_secret(tmp_path_factory) -> Iterator[LocalRegistry]:
    """HTTPS + htpasswd; alice's password is SECRET."""
    reg = start_registry("basic", state_dir=tmp_path_factory.mktemp("secret-basic"),
                         users={USER: SECRET}, name="secret-basic")
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def token_secret(tmp_path_factory) -> Iterator[LocalRegistry]:
    """Token auth (plain HTTP, so the engine reaches it); alice's password is SECRET."""
    reg = start_registry("token", state_dir=tmp_path_factory.mktemp("secret-token"),
                         users={USER: SECRET},
                         grants={USER: {"*": ["*"], "registry:catalog": ["*"]}},
                         name="secret-token")
    yield reg
    reg.close()


@pytest.fixture
def identity_token(token_secret) -> str:
    return token_secret.token_server.issue_identity_token(USER)


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    clients.reset()
    yield
    clients.reset()


def docker_config(auths: dict[str, dict[str, str]]) -> None:
    """What `docker login` leaves: $DOCKER_CONFIG/config.json (a fresh folder per test)."""
    Path(os.environ["DOCKER_CONFIG"], "config.json").write_text(json.dumps({"auths": auths}))


@dataclass(frozen=True)
class Login:
    """One way of handing over the credentials, and a wrong one of the same kind."""

    name: str
    registry: str  # fixture name
    right: Callable[[LocalRegistry, str], None]
    wrong: Callable[[LocalRegistry, str], None]


def _ca(reg: LocalRegistry) -> dict[str, str]:
    return {"ca_bundle": str(reg.ca_file)} if reg.ca_file else {}


def configure_password(secret: str) -> Callable[[LocalRegistry, str], None]:
    return lambda reg, token: rw.configure(reg.host, credentials=(USER, secret), **_ca(reg))


def config_password(secret: str) -> Callable[[LocalRegistry, str], None]:
    def login(reg: LocalRegistry, token: str) -> None:
        docker_config({reg.host: {"auth": b64(f"{USER}:{secret}")}})
        rw.configure(reg.host, **_ca(reg))  # credentials=None: read config.json
    return login


def configure_identity(wrong: bool) -> Callable[[LocalRegistry, str], None]:
    return lambda reg, token: rw.configure(
        reg.host, credentials={"identitytoken": WRONG if wrong else token})


def config_identity(wrong: bool) -> Callable[[LocalRegistry, str], None]:
    def login(reg: LocalRegistry, token: str) -> None:
        docker_config({reg.host: {"identitytoken": WRONG if wrong else token}})
        rw.configure(reg.host)
    return login


LOGINS = [
    Login("configure(credentials=(user, secret), ca_bundle=...)", "basic_secret",
          configure_password(SECRET), configure_password(WRONG)),
    Login("DOCKER_CONFIG auths (basic)", "basic_secret", config_password(SECRET),
          config_password(WRONG)),
    Login("configure(credentials=(user, secret)) on a token registry", "token_secret",
          configure_password(SECRET), configure_password(WRONG)),
    Login("identity token via configure()", "token_secret", configure_identity(False),
          configure_identity(True)),
    Login("identity token in DOCKER_CONFIG", "token_secret", config_identity(False),
          config_identity(True)),
]


def seed(reg: LocalRegistry, repo: str) -> dict[str, str]:
    one = push_image(reg, repo, "1.0", layer_sizes=(700,), seed=repo, created=FIXED_TIME)
    push_image(reg, repo, "latest", layer_sizes=(700,), seed=repo, created=FIXED_TIME)
    amd64 = push_image(reg, repo, None, layer_sizes=(800,), seed=f"{repo}-a")
    arm64 = push_image(reg, repo, None, layer_sizes=(900,), seed=f"{repo}-b",
                       platform=("linux", "arm64", "v8"))
    return {"one": one.digest, "amd64": amd64.digest,
            "multi": push_index(reg, repo, "multi", [amd64, arm64])}


# -- the verbs -----------------------------------------------------------------------------------

def run_every_verb(stack: Haystack, reg: LocalRegistry, other: str, repo: str,
                   digests: dict[str, str], login: Login, token: str) -> None:
    host, ns = reg.host, repo.split("/")[0]
    ref = f"{host}/{repo}"
    do = lambda where, call: attempt(stack, where, call)  # noqa: E731
    ok = lambda where, call: succeed(stack, where, call)  # noqa: E731

    # Success paths: each must succeed (an error fails the test).
    assert ok("check", lambda: rw.check(host))["registry"] == host
    assert len(ok("images", lambda: rw.images(host, ns))) == 3  # 1.0, latest, multi
    ok("images (catalog)", lambda: rw.images(host))
    ok("namespaces", lambda: rw.namespaces(host))
    ok("inspect", lambda: rw.inspect(f"{ref}:multi", platform="linux/arm64/v8"))
    ok("plan_remove", lambda: rw.plan_remove(f"{ref}:1.0"))
    ok("plan_remove (blocked)", lambda: rw.plan_remove(f"{ref}@{digests['amd64']}"))
    ok("copy out", lambda: rw.copy(f"{ref}:multi", f"{other}/{repo}:multi"))
    ok("copy in", lambda: rw.copy(f"{other}/{repo}:multi", f"{ref}:copied"))
    removed = ok("remove tag", lambda: rw.remove(f"{ref}:latest"))
    assert removed.changed
    ok("restore", lambda: rw.restore(removed))
    ok("remove dry run", lambda: rw.remove(f"{ref}@{digests['one']}", dry_run=True))
    ok("add_namespace", lambda: rw.add_namespace(host, f"{ns}-declared"))
    ok("plan_remove_namespace", lambda: rw.plan_remove_namespace(host, ns))
    emptied = ok("remove_namespace", lambda: rw.remove_namespace(host, ns, confirm=ns))
    assert emptied.changed
    ok("restore namespace", lambda: rw.restore(emptied))

    # Failure paths: every one must fail, and its error is swept.
    failures = stack.exceptions
    do("inspect missing", lambda: rw.inspect(f"{ref}:no-such-tag"))
    do("remove missing", lambda: rw.remove(f"{ref}:no-such-tag"))
    do("copy missing", lambda: rw.copy(f"{ref}:no-such-tag", f"{other}/{repo}:x"))
    do("remove protected", lambda: rw.remove(f"{ref}@{digests['amd64']}"))
    do("remove_namespace unconfirmed", lambda: rw.remove_namespace(host, ns))
    do("bad reference", lambda: rw.inspect(f"{ref}:bad tag"))
    assert stack.exceptions - failures == 6

    # The wrong password (or token): refused, and its text says so without showing it.
    login.wrong(reg, token)
    wrong_errors = stack.exceptions
    for name, call in (("check", lambda: rw.check(host)), ("images", lambda: rw.images(host)),
                       ("inspect", lambda: rw.inspect(f"{ref}:1.0")),
                       ("remove", lambda: rw.remove(f"{ref}:1.0")),
                       ("copy", lambda: rw.copy(f"{ref}:1.0", f"{other}/{repo}:w"))):
        try:
            call()
        except rw.Unauthorized as error:
            assert "docker login" in str(error) and host in str(error)
            stack.exception(f"wrong credentials: {name}", error)
        else:
            pytest.fail(f"{name} succeeded with the wrong credentials ({login.name})")
    assert stack.exceptions - wrong_errors == 5
    login.right(reg, token)


# -- the widgets (no engine) ---------------------------------------------------------------------

def settle(panel: Any) -> Any:
    """Wait for what a panel runs in its worker thread (its errors stay in last_error)."""
    try:
        panel.wait(timeout=120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - kept in last_error, swept below
        pass
    return panel


def click(stack: Haystack, panel: Any, button: w.Button, where: str, *, ok: bool = False) -> None:
    """Click; sweep the panel's message and error. ``ok``: this click must not fail."""
    button.click()
    settle(panel)
    if panel.last_error is not None:
        stack.exception(f"{where} -> last_error", panel.last_error)
    stack.add(f"{where} message", panel.message.text)
    if ok:
        assert panel.last_error is None, f"{where}: {panel.message.text}"


def use_every_widget(stack: Haystack, reg: LocalRegistry, other: str, repo: str,
                     tmp_path: Path) -> list[w.Widget]:
    host, ns = reg.host, repo.split("/")[0]
    table = settle(rw.ImageTable(host, ns))
    assert table.last_error is None, table.message.text
    table.select(f"{host}/{repo}:1.0")
    for button, where in ((table.inspect_button, "inspect"),
                          (table.pull_command_button, "pull command")):
        click(stack, table, button, where, ok=True)
    table.export_path.value = str(tmp_path / "images.csv")
    click(stack, table, table.export_button, "export", ok=True)
    table.copy_registry.value = other
    click(stack, table, table.copy_button, "copy", ok=True)
    table.select(f"{host}/{repo}:latest")
    click(stack, table, table.remove_tag_button, "remove tag", ok=True)
    click(stack, table, table.confirm_button, "confirm remove tag", ok=True)
    table.select(f"{host}/{repo}:copied")
    click(stack, table, table.delete_digest_button, "delete digest", ok=True)
    click(stack, table, table.cancel_button, "cancel", ok=True)
    click(stack, table, table.refresh_button, "refresh", ok=True)
    table.filter_text.value = "multi"
    assert table.last_error is None, table.message.text

    namespaces = settle(rw.NamespaceTable(host))
    namespaces.new_namespace.value = f"{ns}-new"
    click(stack, namespaces, namespaces.add_button, "add namespace", ok=True)
    namespaces.select(ns)
    click(stack, namespaces, namespaces.remove_button, "remove namespace (plan)", ok=True)
    click(stack, namespaces, namespaces.cancel_button, "cancel", ok=True)
    click(stack, namespaces, namespaces.refresh_button, "refresh namespaces", ok=True)
    assert namespaces.last_error is None, namespaces.message.text

    dashboard = settle(rw.Dashboard({"secured": host, "other": other}))
    dashboard.namespace_table.select(ns)
    settle(dashboard)
    dashboard.registry_chooser.value = other
    settle(dashboard)
    dashboard.registry_chooser.value = host
    settle(dashboard)
    # Every button in the order it is drawn, with nothing else prepared: mostly failure paths
    # (nothing selected, no name typed), and Remove namespace then Confirm, which deletes.
    dashboard.image_table.export_path.value = str(tmp_path / "dashboard-images.csv")
    panels = [dashboard.namespace_table, dashboard.image_table, dashboard.build_panel,
              dashboard.trash_panel, dashboard.registry_bar]
    for panel in panels:
        for widget in walk(panel):
            if isinstance(widget, w.Button):
                click(stack, panel, widget, f"Dashboard {type(panel).__name__} "
                                            f"{widget.description}")
    build = settle(rw.BuildPanel(host, ns))
    click(stack, build, build.build_button, "build without a folder")
    click(stack, build, build.push_button, "push without a name")
    return [table, namespaces, dashboard, build]


@pytest.mark.parametrize("login", LOGINS, ids=[login.name for login in LOGINS])
def test_no_secret_reaches_logs_journal_errors_widgets_or_reprs(login: Login, request, haystack,
                                                               registry_b, unique_repo,
                                                               tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever a button writes lands here
    reg: LocalRegistry = request.getfixturevalue(login.registry)
    token = request.getfixturevalue("identity_token")
    digests = seed(reg, unique_repo)
    login.right(reg, token)

    run_every_verb(haystack, reg, registry_b.host, unique_repo, digests, login, token)
    use_every_widget(haystack, reg, registry_b.host, unique_repo, tmp_path)
    sweep_everything(haystack, [reg.host])

    assert haystack.log_records > 50 and haystack.exceptions > 15  # the sweep saw a lot
    assert any("DEBUG" in text for where, text in haystack.texts if where.startswith("log"))
    assert haystack.hits(needles(SECRET, WRONG, token)) == []


# -- the engine ----------------------------------------------------------------------------------



@pytest.mark.parametrize("how", ["password in DOCKER_CONFIG", "identity token in DOCKER_CONFIG"])
def test_no_secret_leaks_through_the_engine_verbs_and_panels(how, token_secret, identity_token,
                                                            haystack, docker_client, base_image,
                                                            unique_repo, local_names, tmp_path):
    host, ns = token_secret.host, unique_repo.split("/")[0]
    entry = {"auth": b64(f"{USER}:{SECRET}")} if how.startswith("password") else \
        {"identitytoken": identity_token}
    docker_config({host: entry})
    do = lambda where, call: attempt(haystack, where, call)  # noqa: E731
    ok = lambda where, call: succeed(haystack, where, call)  # noqa: E731
    ref = f"{host}/{unique_repo}:1"
    local_names.extend([ref, f"{host}/{ns}/busybox:latest", f"{host}/{ns}/hello:1.0"])

    ok("tag", lambda: rw.tag(base_image, ref))
    ok("push", lambda: rw.push(ref))
    ok("remove_local", lambda: rw.remove_local(ref))
    ok("pull", lambda: rw.pull(ref))
    ok("local_images", lambda: rw.local_images())
    ok("run", lambda: rw.run(ref, ["true"]))
    failures = haystack.exceptions
    do("pull missing", lambda: rw.pull(f"{host}/{unique_repo}:no-such-tag"))
    do("push with the wrong password", lambda: rw.push(ref, credentials=(USER, WRONG)))
    do("push with a wrong identity token",
       lambda: rw.push(ref, credentials={"identitytoken": WRONG}))
    assert haystack.exceptions - failures == 3

    table = settle(rw.ImageTable(host, ns))
    table.push_source.value = base_image
    click(haystack, table, table.push_button, "ImageTable push")
    assert table.last_error is None, table.message.text
    table.select(f"{host}/{ns}/busybox:latest")
    click(haystack, table, table.pull_button, "ImageTable pull")
    assert table.last_error is None, table.message.text

    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(f'FROM {base_image}\nCMD ["/bin/true"]\n')
    panel = settle(rw.BuildPanel(host, ns))
    panel.context_dir.value, panel.image_name.value, panel.test_run.value = \
        str(context), "hello:1.0", True
    click(haystack, panel, panel.build_button, "BuildPanel build", ok=True)
    click(haystack, panel, panel.push_button, "BuildPanel push")
    assert panel.last_error is None, panel.message.text
    haystack.value("BuildPanel.last_result", panel.last_result)

    sweep_everything(haystack, [host])
    assert haystack.hits(needles(SECRET, WRONG, identity_token)) == []


def test_the_sweep_finds_a_secret_planted_in_each_place(haystack, registry, tmp_path):
    # The harness itself: a leak in any of the places above would be caught.
    token = f"tok-{uuid.uuid4()}"
    logging.getLogger("registry_widgets.planted").debug("Authorization: Basic %s",
                                                        b64(f"{USER}:{SECRET}"))
    attempt(haystack, "planted error", lambda: (_ for _ in ()).throw(
        rw.RegistryError("wrapped", reference=b64(SECRET))))
    attempt(haystack, "planted result", lambda: rw.Result("x", details={"note": token}))
    label = w.Label(value=f"...{WRONG}...")
    journal.append({"action": "planted", "note": "..." + b64(f"x:{SECRET}")[4:] + "..."})
    sweep_everything(haystack, [registry.host])
    where = {hit.split(" in ", 1)[1].split(":")[0] for hit in haystack.hits(
        needles(SECRET, WRONG, token))}
    label.close()
    assert {"log registry_widgets.planted", "planted error.reference", "journal",
            "planted result Result.to_dict()"} <= where
    assert any(w_.startswith("state of Label") for w_ in where)


# -- credentials written into a reference -------------------------------------------------------

def test_a_password_written_into_a_reference_is_never_echoed(haystack, capfd, basic_secret,
                                                            unique_repo):
    # urllib3's own debug logging to stderr, as `urllib3.add_stderr_logger()` turns it on, and
    # the same for the package's http.client path, on top of the DEBUG records the haystack
    # collects from every logger.
    import urllib3

    handler = urllib3.add_stderr_logger(logging.DEBUG)
    pool_log = logging.getLogger("registry_widgets.transport.curl")
    pool_log.addHandler(handler)
    host = basic_secret.host
    userinfo = f"{USER}:{SECRET}@"
    attempts = {
        "images(https://user:pw@host)": lambda: rw.images(f"https://{userinfo}{host}"),
        "images(user:pw@host)": lambda: rw.images(f"{userinfo}{host}"),
        "inspect(user:pw@host/repo:tag)": lambda: rw.inspect(f"{userinfo}{host}/{unique_repo}:1"),
        "copy(to user:pw@host/...)": lambda: rw.copy(f"{host}/{unique_repo}:1",
                                                    f"{userinfo}{host}/{unique_repo}:2"),
        "remove(https://user:pw@host/...)": lambda: rw.remove(
            f"https://{userinfo}{host}/{unique_repo}:1", dry_run=True),
        "configure(https://user:pw@host)": lambda: rw.configure(f"https://{userinfo}{host}"),
        "RegistryClient(http://user:pw@host)": lambda: rw.RegistryClient(
            f"http://{userinfo}{host}"),
        "a password with '/' and '@'": lambda: rw.inspect(
            f"{USER}:a/{SECRET}@b@{host}/{unique_repo}:1"),
    }
    try:
        for where, call in attempts.items():
            before = haystack.exceptions
            attempt(haystack, where, call)
            assert haystack.exceptions == before + 1, f"{where} did not fail"
            where_, text = next((w_, t) for w_, t in reversed(haystack.texts)
                                if w_ == f"str({where})")
            assert "credentials do not go in a reference" in text, (where, text)
        # The same password used the right way, and a wrong one: real requests for urllib3
        # to log (connections, request lines, retries).
        configure_password(SECRET)(basic_secret, "")
        push_image(basic_secret, unique_repo, "1", layer_sizes=(100,), seed="userinfo")
        attempt(haystack, "images with the password", lambda: rw.images(host))
        configure_password(WRONG)(basic_secret, "")
        attempt(haystack, "images with a wrong password", lambda: rw.images(host))
        sweep_everything(haystack, [host])
    finally:
        logging.getLogger("urllib3").removeHandler(handler)
        pool_log.removeHandler(handler)
    out, err = capfd.readouterr()  # the stderr logger wrote here
    # It did log the requests: uploads through requests and urllib3, tag lists through
    # http.client (both with the Basic password in their Authorization header).
    assert f'"POST /v2/{unique_repo}/blobs/uploads/' in err
    assert f'"GET /v2/{unique_repo}/tags/list' in err
    haystack.add("stdout", out)
    haystack.add("stderr", err)
    assert haystack.hits(needles(SECRET, WRONG)) == []
