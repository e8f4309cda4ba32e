"""Bad input at the verb level: one clear error, and nothing changed.

A table of (verb, condition) rows. Each row asserts the same contract, the one people pointing
the package at a production registry rely on:

- exactly the named error type (not a subclass, not a raw ``requests`` or ``ValueError``);
- a message that names the registry and the reference (or namespace) and says what to do next;
- nothing changed: the watched repositories hold the same tags on the same digests before and
  after (read back with the raw-HTTP oracle of ``tests/support``), the journal has no record, and where a
  fault proxy stands in front of the registry its log shows no write request at all.

Malformed text fails before any request: those rows run with every socket connect and name
lookup refused, and a property test feeds the reference verbs random text. Client-level errors
are in ``test_registry_errors.py`` and the grammar in ``test_reference.py``; this file is about
what the verbs let through. Faults a real registry cannot produce (HTML, garbage JSON, an
unknown manifest type, a huge tag list) come from ``tests/support/faultproxy.py`` in front of
a real one.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import registry_widgets as rw
from registry_widgets.errors import (BadReference, DeleteDisabled, NotFound, ProtocolError,
                                     RegistryError, RegistryWidgetsError, Unauthorized,
                                     Unreachable)
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images.inventory import COLUMNS
from registry_widgets.reference import EXPECTED_FORM, parse_reference
from devstack import LocalRegistry
from devstack._process import free_port
from tests.support import RawClient, get_manifest, list_repositories, push_image
from tests.support.faultproxy import FaultProxy, Respond

pytest_plugins = ["faults_fixtures"]  # fault_proxy, and fresh package clients for every test

FORM = "registry/namespace/repository:tag"
WRITES = {"DELETE", "PUT", "POST", "PATCH"}
WRONG_PASSWORD = "not-the-Pw-4Kx"
UNKNOWN_HOST = "no-such-registry.invalid:5000"
D64 = "sha256:" + "a" * 64
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


# -- the world a row acts on ---------------------------------------------------------------------

@dataclass
class Act:
    """What a row does: ``call`` must fail naming ``registry`` and every one of ``names``;
    ``watch`` lists the (registry, repository) pairs that must not change (repository None:
    the registry's whole catalog)."""

    call: Callable[[], Any]
    registry: str
    names: tuple[str, ...] = ()
    watch: list[tuple[LocalRegistry, str | None]] = field(default_factory=list)
    proxy: FaultProxy | None = None


class World:
    """Lazy fixtures and seeding for a row: a row only starts what it uses."""

    def __init__(self, request: pytest.FixtureRequest, repo: str):
        self.request, self.repo = request, repo
        self.namespace = repo.split("/")[0]

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    def seed(self, reg: LocalRegistry, tag: str = "1.0") -> Any:
        return push_image(reg, self.repo, tag, layer_sizes=(512,), seed=self.repo)

    def proxy(self, *rules: tuple[str | None, str, Any]) -> FaultProxy:
        """A fault proxy in front of the session registry, the image seeded behind it."""
        proxy = self.fixture("fault_proxy")(self.fixture("registry"))
        self.seed(proxy.registry)
        for method, path, fault in rules:
            proxy.add_rule(method, path, fault, times=None)
        return proxy


def state(watch: list[tuple[LocalRegistry, str | None]]) -> dict[tuple[str, str], Any]:
    """tag -> digest for each watched repository (the catalog for None), as raw HTTP sees it."""
    seen: dict[tuple[str, str], Any] = {}
    for reg, repo in watch:
        if repo is None:
            seen[(reg.host, "_catalog")] = sorted(list_repositories(reg))
            continue
        r = RawClient(reg).request("GET", f"/v2/{repo}/tags/list",
                                   scope=f"repository:{repo}:pull")
        tags = (r.json().get("tags") or []) if r.status_code == 200 else []
        seen[(reg.host, repo)] = {t: get_manifest(reg, repo, t).digest for t in sorted(tags)}
    return seen


class NetworkAttempt(Exception):
    """Raised (and recorded) by ``no_network`` when code tries to resolve or connect."""


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse every name lookup and socket connect (TCP and the engine's unix socket)."""
    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):  # noqa: ANN001
        attempts.append(f"connect {address!r}")
        raise NetworkAttempt(f"connect {address!r}")

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001
        attempts.append(f"resolve {host!r}")
        raise NetworkAttempt(f"resolve {host!r}")

    socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


# -- the rows ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    verb: str
    condition: str
    error: type[RegistryWidgetsError]
    words: tuple[str, ...]
    act: Callable[[World], Act]
    offline: bool = False  # malformed text: must fail before any request

    @property
    def id(self) -> str:
        return f"{self.verb}: {self.condition}"


def image_verbs(host_of: Callable[[World], tuple[str, list]], tag: str = "1.0"
                ) -> dict[str, Callable[[World], Act]]:
    """The verbs that take one image reference, on the registry ``host_of`` sets up."""

    def make(verb: Callable[[str], Any]) -> Callable[[World], Act]:
        def act(world: World) -> Act:
            host, watch, *proxy = host_of(world)
            ref = f"{host}/{world.repo}:{tag}"
            return Act(lambda: verb(ref), host, (f"{host}/{world.repo}",), watch,
                       proxy[0] if proxy else None)
        return act

    return {"inspect": make(rw.inspect), "plan_remove": make(rw.plan_remove),
            "remove": make(rw.remove)}


def registry_verbs(host_of: Callable[[World], tuple[str, list]]
                   ) -> dict[str, Callable[[World], Act]]:
    """The verbs that take a registry (and a namespace)."""

    def make(verb: Callable[[str, World], Any], names: Callable[[str, World], tuple[str, ...]]
             ) -> Callable[[World], Act]:
        def act(world: World) -> Act:
            host, watch, *proxy = host_of(world)
            return Act(lambda: verb(host, world), host, names(host, world), watch,
                       proxy[0] if proxy else None)
        return act

    no_names: Callable[[str, World], tuple[str, ...]] = lambda host, world: ()  # noqa: E731

    def namespace_names(host: str, world: World) -> tuple[str, ...]:
        return (f"{host}/{world.namespace}/",)

    return {
        # A namespace filter keeps the listing to this row's repository.
        "images": make(lambda host, world: rw.images(host, world.namespace), no_names),
        "namespaces": make(lambda host, world: rw.namespaces(host), no_names),
        "check": make(lambda host, world: rw.check(host), no_names),
        "remove_namespace": make(lambda host, world: rw.remove_namespace(
            host, world.namespace, confirm=world.namespace), namespace_names),
        "plan_remove_namespace": make(lambda host, world: rw.plan_remove_namespace(
            host, world.namespace), namespace_names),
    }


def copy_from(host_of: Callable[[World], tuple[str, list]]) -> Callable[[World], Act]:
    """copy from the troubled registry to registry B."""
    def act(world: World) -> Act:
        host, watch, *proxy = host_of(world)
        b = world.fixture("registry_b")
        return Act(lambda: rw.copy(f"{host}/{world.repo}:1.0", f"{b.host}/{world.repo}:1.0"),
                   host, (f"{host}/{world.repo}",), watch + [(b, world.repo)],
                   proxy[0] if proxy else None)
    return act


def copy_to(host_of: Callable[[World], tuple[str, list]]) -> Callable[[World], Act]:
    """copy from registry B (seeded) to the troubled registry."""
    def act(world: World) -> Act:
        host, watch, *proxy = host_of(world)
        b = world.fixture("registry_b")
        world.seed(b)
        return Act(lambda: rw.copy(f"{b.host}/{world.repo}:1.0", f"{host}/{world.repo}:1.0"),
                   host, (f"{host}/{world.repo}",), watch + [(b, world.repo)],
                   proxy[0] if proxy else None)
    return act


def rows(condition: str, error: type[RegistryWidgetsError], words: tuple[str, ...],
         verbs: dict[str, Callable[[World], Act]]) -> list[Row]:
    return [Row(verb, condition, error, words, act) for verb, act in verbs.items()]


# Where each condition happens.

def unknown_host(world: World) -> tuple[str, list]:
    return UNKNOWN_HOST, []


def refused_port(world: World) -> tuple[str, list]:
    return f"127.0.0.1:{free_port()}", []


def tls_without_ca(world: World) -> tuple[str, list]:
    basic = world.fixture("basic_registry")
    world.seed(basic)
    return basic.host, [(basic, world.repo)]


def wrong_basic_password(world: World) -> tuple[str, list]:
    basic = world.fixture("basic_registry")
    world.seed(basic)
    clients.configure(basic.host, credentials=(basic.username, WRONG_PASSWORD),
                      ca_bundle=str(basic.ca_file))
    return basic.host, [(basic, world.repo)]


def wrong_token_password(world: World) -> tuple[str, list]:
    token = world.fixture("token_registry")
    world.seed(token)
    clients.configure(token.host, credentials=(token.username, WRONG_PASSWORD))
    return token.host, [(token, world.repo)]


def html_everywhere(world: World) -> tuple[str, list, FaultProxy]:
    proxy = world.proxy((None, r"", Respond.html()))
    return proxy.host, [(proxy.registry, world.repo)], proxy


def garbage_json(world: World) -> tuple[str, list, FaultProxy]:
    # Every API answer but the /v2/ ping is cut off mid-JSON.
    proxy = world.proxy((None, r"^/v2/.", Respond.json(b'{"repositories": ["ns/app", "tags": [')))
    return proxy.host, [(proxy.registry, world.repo)], proxy


def schema1_manifests(world: World) -> tuple[str, list, FaultProxy]:
    body = json.dumps({"schemaVersion": 1, "name": world.repo, "tag": "1.0", "fsLayers": []})
    proxy = world.proxy(("GET", r"/manifests/", Respond.json(body, content_type=SCHEMA1)))
    return proxy.host, [(proxy.registry, world.repo)], proxy


def deletes_disabled(world: World) -> tuple[str, list]:
    nodelete = world.fixture("nodelete_registry")
    world.seed(nodelete)
    return nodelete.host, [(nodelete, world.repo)]


def seeded_registry(world: World) -> tuple[str, list]:
    reg = world.fixture("registry")
    world.seed(reg)
    return reg.host, [(reg, world.repo)]


def without_registry_listings(verbs: dict[str, Callable[[World], Act]], *drop: str
                              ) -> dict[str, Callable[[World], Act]]:
    return {verb: act for verb, act in verbs.items() if verb not in drop}


UNREACHABLE_NEXT = {"unknown host": ("cannot resolve", "check the spelling"),
                    "connection refused": ("connection refused", "is the registry running"),
                    "TLS without the CA": ("TLS verification failed", "ca_bundle=")}
NETWORK_ROWS = [
    row
    for condition, host_of in (("unknown host", unknown_host),
                               ("connection refused", refused_port),
                               ("TLS without the CA", tls_without_ca))
    for row in rows(condition, Unreachable, UNREACHABLE_NEXT[condition], {
        **image_verbs(host_of), **registry_verbs(host_of), "copy (source)": copy_from(host_of),
        "copy (target)": copy_to(host_of)})
]
CREDENTIAL_ROWS = rows(
    "wrong password (basic)", Unauthorized, ("unauthorized", "docker login"),
    {**image_verbs(wrong_basic_password), **registry_verbs(wrong_basic_password),
     "copy (source)": copy_from(wrong_basic_password),
     "copy (target)": copy_to(wrong_basic_password)}) + rows(
    "wrong password (token server)", Unauthorized, ("refused to log in", "docker login"),
    {**image_verbs(wrong_token_password), **registry_verbs(wrong_token_password),
     "copy (target)": copy_to(wrong_token_password)})
PROTOCOL_ROWS = rows(
    "an HTML page answers", ProtocolError, ("HTML page", "is that address a registry"),
    {**image_verbs(html_everywhere), **registry_verbs(html_everywhere),
     "copy (source)": copy_from(html_everywhere), "copy (target)": copy_to(html_everywhere)}
) + rows(
    "garbage JSON answers", ProtocolError, ("check that the address is the registry itself",),
    {**image_verbs(garbage_json),
     **without_registry_listings(registry_verbs(garbage_json), "check"),
     "copy (source)": copy_from(garbage_json)}
) + rows(
    "a manifest of an unknown media type", ProtocolError,
    ("unsupported manifest media type", SCHEMA1, "Re-push"),
    {**image_verbs(schema1_manifests), "copy (source)": copy_from(schema1_manifests),
     "images": registry_verbs(schema1_manifests)["images"],
     "remove_namespace": registry_verbs(schema1_manifests)["remove_namespace"]})


def remove_digest(world: World) -> Act:
    nodelete = world.fixture("nodelete_registry")
    image = world.seed(nodelete)
    return Act(lambda: rw.remove(image.by_digest), nodelete.host, (image.by_digest,),
               [(nodelete, world.repo)])


DELETE_ROWS = rows(
    "deletes disabled", DeleteDisabled, ("does not allow deletes", "delete: enabled: true",
                                         "nothing was changed"),
    {"remove": image_verbs(deletes_disabled)["remove"], "remove (digest)": remove_digest,
     "remove_namespace": registry_verbs(deletes_disabled)["remove_namespace"]})

def copy_missing_tag(world: World) -> Act:
    host, watch = seeded_registry(world)
    source = f"{host}/{world.repo}:no-such-tag"
    return Act(lambda: rw.copy(source, f"{host}/{world.repo}:copied"), host, (source,), watch)


MISSING_ROWS = rows(
    "a tag that does not exist", NotFound, ("not found", "check"),
    {**image_verbs(seeded_registry, tag="no-such-tag"), "copy (source)": copy_missing_tag}
) + rows(
    "a namespace that does not exist", NotFound, ("not found", "nothing was changed",
                                                  "namespaces("),
    {verb: act for verb, act in registry_verbs(
        lambda world: (world.fixture("registry").host, [(world.fixture("registry"), None)])
    ).items() if verb in ("remove_namespace", "plan_remove_namespace")}
    | {"remove_namespace (dry run)": lambda world: Act(
        lambda: rw.remove_namespace(world.fixture("registry").host, world.namespace,
                                    dry_run=True),
        world.fixture("registry").host, (f"{world.namespace}/",),
        [(world.fixture("registry"), None)])})

# No registry answers there, so there is nothing whose state could change.
NOTHING_TO_WATCH = {"unknown host", "connection refused"}


def offline(verb: str, text: str, call: Callable[[], Any], quoted: str | None = None) -> Row:
    """A malformed input row: BadReference quoting ``text`` (or the ``quoted`` part of it),
    before any request."""
    shown = repr(text if quoted is None else quoted)[1:-1]
    return Row(verb, f"malformed {text!r}", BadReference, (FORM, shown),
               lambda world: Act(call, ""), offline=True)


MALFORMED_ROWS = [
    offline("copy (source)", "Ns/App:1", lambda: rw.copy("Ns/App:1", "127.0.0.1:5000/ns/app:1")),
    offline("copy (target)", "127.0.0.1:5000/ns/app:bad tag",
            lambda: rw.copy("127.0.0.1:5000/ns/app:1", "127.0.0.1:5000/ns/app:bad tag")),
    offline("remove", "127.0.0.1:5000/ns/app@sha256:abc",
            lambda: rw.remove("127.0.0.1:5000/ns/app@sha256:abc")),
    offline("plan_remove", "", lambda: rw.plan_remove("")),
    offline("inspect", "https://127.0.0.1:5000/ns/app:1",
            lambda: rw.inspect("https://127.0.0.1:5000/ns/app:1")),
    offline("inspect", "127.0.0.1:99999/ns/app:1", lambda: rw.inspect("127.0.0.1:99999/ns/app:1"),
            quoted="127.0.0.1:99999"),
    offline("inspect", "[:]:5000/ns/app:1", lambda: rw.inspect("[:]:5000/ns/app:1"),
            quoted="[:]"),  # the grammar's IPv6 form, but no address (found by hypothesis)
    offline("images", "not a host!", lambda: rw.images("not a host!")),
    offline("images", "127.0.0.1:5000/ns", lambda: rw.images("127.0.0.1:5000/ns")),
    offline("images (namespace)", "Team", lambda: rw.images("127.0.0.1:5000", "Team")),
    offline("namespaces", "registry.example.com:0x50", lambda: rw.namespaces(
        "registry.example.com:0x50")),
    offline("check", "127.0.0.1:99999", lambda: rw.check("127.0.0.1:99999")),
    offline("add_namespace", "Team A", lambda: rw.add_namespace("127.0.0.1:5000", "Team A")),
    offline("add_namespace (registry)", "bad host", lambda: rw.add_namespace("bad host", "team")),
    offline("remove_namespace", "-team-", lambda: rw.remove_namespace(
        "127.0.0.1:5000", "-team-", confirm="-team-")),
    offline("remove_namespace (registry)", "ftp://127.0.0.1:5000", lambda: rw.remove_namespace(
        "ftp://127.0.0.1:5000", "team", confirm="team")),
    offline("configure", "127.0.0.1:5000/v2/", lambda: rw.configure("127.0.0.1:5000/v2/")),
    offline("pull", "ns/app:-1", lambda: rw.pull("ns/app:-1")),
    offline("push", f"127.0.0.1:5000/ns/app@{D64}",
            lambda: rw.push(f"127.0.0.1:5000/ns/app@{D64}")),
    offline("tag", f"127.0.0.1:5000/ns/app@{D64}",
            lambda: rw.tag("busybox:latest", f"127.0.0.1:5000/ns/app@{D64}")),
]

ROWS = (MALFORMED_ROWS + NETWORK_ROWS + CREDENTIAL_ROWS + PROTOCOL_ROWS + DELETE_ROWS
        + MISSING_ROWS)


@pytest.fixture
def world(request: pytest.FixtureRequest, unique_repo: str) -> World:
    return World(request, unique_repo)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_gives_one_clear_error_and_changes_nothing(row: Row, world: World):
    act = row.act(world)
    assert row.offline or act.watch or act.proxy or row.condition in NOTHING_TO_WATCH, \
        f"{row.id} watches nothing: give it a watched repository, the catalog or a proxy"
    before = state(act.watch)

    if row.offline:
        with no_network() as attempts, pytest.raises(RegistryWidgetsError) as caught:
            act.call()
        assert not attempts, f"network before the input was checked: {attempts}"
    else:
        with pytest.raises(RegistryWidgetsError) as caught:
            act.call()

    error = caught.value
    assert type(error) is row.error, f"{type(error).__name__}: {error}"
    message = str(error)
    for word in row.words + act.names + ((act.registry,) if act.registry else ()):
        assert word in message, f"{word!r} missing from: {message}"
    if act.registry and isinstance(error, RegistryError):
        assert error.registry == act.registry
    assert state(act.watch) == before
    assert not list(journal.read())
    if act.proxy is not None:
        assert not [f"{e.method} {e.path}" for e in act.proxy.log if e.method in WRITES]


# -- the engine verbs ----------------------------------------------------------------------------

@pytest.mark.parametrize("where, error, words", [
    ("a tag that does not exist", NotFound, ("not found", "Check the repository and tag")),
    ("connection refused", Unreachable, ("connection refused", "Check the registry's address")),
])
def test_pull_of_bad_input_is_one_clear_error(where, error, words, registry, unique_repo,
                                              docker_client):
    host = registry.host if where.startswith("a tag") else f"127.0.0.1:{free_port()}"
    ref = f"{host}/{unique_repo}:no-such-tag"
    with pytest.raises(RegistryWidgetsError) as caught:
        rw.pull(ref)
    assert type(caught.value) is error
    for word in words + (host, unique_repo):
        assert word in str(caught.value)
    assert not list(journal.read())


# -- random text ---------------------------------------------------------------------------------

_CHARS = list("ab09AZ.-_:/@[]% \té")
_VALID = ["127.0.0.1:5000/ns/app:1.0", "registry.example.com/team/app@" + D64,
          "[::1]:5000/app:1", "localhost:5000/a/b/c:latest", "redis"]


@st.composite
def near_references(draw) -> str:
    """A valid reference with one to three characters replaced, inserted or deleted."""
    chars = list(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        if how == "insert":
            chars.insert(at, draw(st.sampled_from(_CHARS)))
        elif at < len(chars):
            if how == "replace":
                chars[at] = draw(st.sampled_from(_CHARS))
            else:
                del chars[at]
    return "".join(chars)


REFERENCE_VERBS: dict[str, Callable[[str], Any]] = {
    "plan_remove": rw.plan_remove,
    "remove": lambda text: rw.remove(text, dry_run=True),
    "inspect": rw.inspect,
    "copy (source)": lambda text: rw.copy(text, "127.0.0.1:5000/ns/app:1"),
    "copy (target)": lambda text: rw.copy("127.0.0.1:5000/ns/app:1", text),
    "pull": rw.pull,
}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=40), st.text(st.sampled_from(_CHARS), max_size=40),
                      near_references()))
def test_random_text_is_a_reference_or_bad_reference_before_any_request(text):
    try:
        parse_reference(text)
        valid = True
    except BadReference as e:
        assert FORM in str(e) and EXPECTED_FORM in str(e)
        valid = False
    for name, verb in REFERENCE_VERBS.items():
        clients.reset()
        with no_network() as attempts:
            try:
                verb(text)
            except BadReference as e:
                # A valid reference may still name an unusable registry (port 99999).
                assert not valid or "Invalid registry" in str(e), (name, text, str(e))
                assert FORM in str(e), (name, text, str(e))
                assert not attempts, (name, text, attempts)
            except Exception as e:  # noqa: BLE001 - whatever the refused connection became
                assert attempts, (name, text, repr(e))
                assert valid, f"{name} went to the network with malformed {text!r}"
            else:
                pytest.fail(f"{name}({text!r}) neither refused it nor tried the network")


# -- what is not an error ------------------------------------------------------------------------

def test_a_huge_tag_list_is_read_with_bounded_work_without_a_crash(fault_proxy, registry,
                                                                  unique_repo):
    proxy = fault_proxy(registry)
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    fake = [f"t{i:05d}" for i in range(2000)]
    # 2,001 tags in one answer (distribution pages at 100): only "1.0" exists.
    body = json.dumps({"name": unique_repo, "tags": fake + ["1.0"]})
    proxy.add_rule("GET", r"/tags/list", Respond.json(body), times=None)
    before = state([(registry, unique_repo)])

    table = rw.images(proxy.host, repositories=[unique_repo])
    plan = rw.plan_remove(f"{proxy.host}/{unique_repo}:1.0")

    assert list(table["tag"]) == ["1.0"] and len(table.attrs["skipped"]) == len(fake)
    assert plan.digest == image.digest and plan.co_tags_kept == ()
    # Bounded work, not a stopwatch: one tag list per verb, each tag asked for at most once.
    assert len(proxy.exchanges("GET", r"/tags/list")) == 2
    asked = Counter(e.path for e in proxy.exchanges(None, r"/manifests/"))
    per_tag = [asked.pop(f"/v2/{unique_repo}/manifests/{tag}", 0) for tag in fake + ["1.0"]]
    assert max(per_tag) <= 2 * 2  # at most HEAD + GET, in each of the two verbs
    assert list(asked) == [f"/v2/{unique_repo}/manifests/{image.digest}"]  # and one by digest
    assert state([(registry, unique_repo)]) == before
    assert not [e for e in proxy.log if e.method in WRITES]


def test_names_a_registry_lists_that_are_not_names_are_skipped_never_requested(
        fault_proxy, registry, unique_repo):
    # A path such as ns/../other would otherwise reach (and, for remove_namespace, delete in)
    # another repository: the catalog's names and the tag list's tags are used in URLs.
    namespace = unique_repo.split("/")[0]
    proxy = fault_proxy(registry)
    push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    other = push_image(registry, f"{namespace}x/other", "1.0", layer_sizes=(512,), seed="other")
    proxy.add_rule("GET", r"/_catalog", Respond.json(json.dumps(
        {"repositories": [unique_repo, f"{namespace}/../{namespace}x/other", "Bad/Name"]})),
        times=None)
    proxy.add_rule("GET", rf"/{unique_repo}/tags/list", Respond.json(json.dumps(
        {"name": unique_repo, "tags": ["1.0", "../../../other", "bad tag", "x" * 200]})),
        times=None)
    before = state([(registry, unique_repo), (registry, other.repository)])

    dry = rw.remove_namespace(proxy.host, namespace, dry_run=True)
    table = rw.images(proxy.host)

    assert dry.details["repositories"] == [unique_repo]
    assert dry.details["tags_removed"] == [f"{unique_repo}:1.0"]
    assert list(table["reference"]) == [f"{proxy.host}/{unique_repo}:1.0"]
    # Blob paths are digests, which may contain "bad" by chance: only names are checked.
    requested = [e.path for e in proxy.log if "/blobs/" not in e.path]
    assert not [p for p in requested if "other" in p or "bad" in p.lower() or "xxxx" in p]
    assert state([(registry, unique_repo), (registry, other.repository)]) == before


def test_an_images_filter_on_a_namespace_with_no_images_is_an_empty_table(registry, unique_repo):
    # A filter, not a lookup: a namespace declared but not pushed to yet (or a destination
    # about to receive its first image) lists as empty. remove_namespace is the verb that
    # refuses an unknown namespace (the table above).
    table = rw.images(registry.host, unique_repo.split("/")[0])
    assert table.empty and list(table.columns) == COLUMNS
    assert not list(journal.read())


def test_remove_namespace_of_a_declared_namespace_without_images_is_no_change(registry,
                                                                            unique_repo):
    namespace = unique_repo.split("/")[0]
    rw.add_namespace(registry.host, namespace)
    result = rw.remove_namespace(registry.host, namespace, confirm=namespace)
    assert not result.changed and result.details["repositories"] == []
