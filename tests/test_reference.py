"""Specification of image references (registry_widgets.reference).

The tables follow distribution/reference's normalize_test.go and reference_test.go,
read through ParseNormalizedNamed (what ``docker pull`` does): so some inputs that
reference_test.go parses without a domain (``test_com``) land on Docker Hub here.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from registry_widgets.errors import BadReference
from registry_widgets.reference import (
    EXPECTED_FORM, Reference, is_digest, parse_reference, validate_digest, validate_repository,
    validate_tag,
)

F64 = "sha256:" + "f" * 64
D = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
BUSYBOX = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
SHA512 = "sha512:" + "f" * 128
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
HUB = "docker.io"

# input -> registry, repository, tag, digest
VALID = [
    # Docker Hub normalisation (normalize_test.go: TestParseAnyReference, TestParseRepositoryInfo)
    ("redis", HUB, "library/redis", "latest", None),
    ("redis:latest", HUB, "library/redis", "latest", None),
    ("docker.io/library/redis:latest", HUB, "library/redis", "latest", None),
    ("redis@" + D, HUB, "library/redis", None, D),
    ("docker.io/library/redis@" + D, HUB, "library/redis", None, D),
    ("dmcgowan/myapp", HUB, "dmcgowan/myapp", "latest", None),
    ("dmcgowan/myapp:latest", HUB, "dmcgowan/myapp", "latest", None),
    ("docker.io/mcgowan/myapp:latest", HUB, "mcgowan/myapp", "latest", None),
    ("dmcgowan/myapp@" + D, HUB, "dmcgowan/myapp", None, D),
    (D[7:-1], HUB, "library/" + D[7:-1], "latest", None),  # 63 hex chars is a name
    ("dbcc1", HUB, "library/dbcc1", "latest", None),
    ("fooo/bar", HUB, "fooo/bar", "latest", None),
    ("index.docker.io/fooo/bar", HUB, "fooo/bar", "latest", None),
    ("ubuntu", HUB, "library/ubuntu", "latest", None),
    ("library/ubuntu", HUB, "library/ubuntu", "latest", None),
    ("nonlibrary/ubuntu", HUB, "nonlibrary/ubuntu", "latest", None),
    ("other/library", HUB, "other/library", "latest", None),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase", "latest", None),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", "latest", None),
    ("example.com/private/moonbase", "example.com", "private/moonbase", "latest", None),
    ("example.com:8000/privatebasee", "example.com:8000", "privatebasee", "latest", None),
    ("ubuntu-12.04-base", HUB, "library/ubuntu-12.04-base", "latest", None),
    ("index.docker.io/library/ubuntu-12.04-base", HUB, "library/ubuntu-12.04-base", "latest", None),
    ("docker.io/foo", HUB, "library/foo", "latest", None),
    ("index.docker.io/foo", HUB, "library/foo", "latest", None),
    ("library/foo/bar", HUB, "library/foo/bar", "latest", None),
    ("store/foo/bar", HUB, "store/foo/bar", "latest", None),
    ("Foo/bar", "Foo", "bar", "latest", None),  # uppercase first component: a registry
    ("FOO/bar", "FOO", "bar", "latest", None),
    # TestNormalizedSplitHostname
    ("test_com/foo", HUB, "test_com/foo", "latest", None),
    ("docker/migrator", HUB, "docker/migrator", "latest", None),
    ("test.com:8080/foo", "test.com:8080", "foo", "latest", None),
    ("test-com:8080/foo", "test-com:8080", "foo", "latest", None),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "latest", None),
    # reference_test.go TestReferenceParse, normalised
    ("test_com", HUB, "library/test_com", "latest", None),
    ("test.com:tag", HUB, "library/test.com", "tag", None),
    ("test.com:5000", HUB, "library/test.com", "5000", None),  # one component: port is a tag
    ("test.com/repo:tag", "test.com", "repo", "tag", None),
    ("test:5000/repo", "test:5000", "repo", "latest", None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    ("test:5000/repo@" + F64, "test:5000", "repo", None, F64),
    ("test:5000/repo:tag@" + F64, "test:5000", "repo", "tag", F64),
    ("lowercase:Uppercase", HUB, "library/lowercase", "Uppercase", None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
     "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    ("xn--7o8h.com/myimage:xn--7o8h.com@" + SHA512, "xn--7o8h.com", "myimage", "xn--7o8h.com",
     SHA512),
    ("foo_bar.com:8080", HUB, "library/foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", HUB, "foo/foo_bar.com", "8080", None),
    ("192.168.1.1", HUB, "library/192.168.1.1", "latest", None),
    ("192.168.1.1:5000", HUB, "library/192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1", "repo", "latest", None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest", None),
    ("[2001:db8::1]:5000/repo:tag@" + F64, "[2001:db8::1]:5000", "repo", "tag", F64),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest", None),
    ("[::1]:5000/repo", "[::1]:5000", "repo", "latest", None),
    # normalize_test.go TestValidateReferenceName / TestValidateRemoteName
    ("192.168.0.1:80", HUB, "library/192.168.0.1", "80", None),
    ("192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest", None),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest", None),
    ("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
     "latest", None),
    ("docker.io/" + HEX64, HUB, "library/" + HEX64, "latest", None),  # hex with a registry is fine
    ("Docker/docker", "Docker", "docker", "latest", None),
    ("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", HUB,
     "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest", None),
    ("docker---rules/docker", HUB, "docker---rules/docker", "latest", None),
    ("dock__er/docker", HUB, "dock__er/docker", "latest", None),
    ("d/docker", HUB, "d/docker", "latest", None),
    ("jess/t", HUB, "jess/t", "latest", None),
    # TestParseReferenceWithTagAndDigest: both are kept
    ("busybox:latest@" + BUSYBOX, HUB, "library/busybox", "latest", BUSYBOX),
    # distribution's own oddities, kept so docker and this package agree
    ("localhost", HUB, "library/localhost", "latest", None),
    ("localhost:5000", HUB, "library/localhost", "5000", None),
    ("sha256:abc", HUB, "library/sha256", "abc", None),  # not a valid digest: a name and tag
    # this project
    ("localhost/foo", "localhost", "foo", "latest", None),
    ("localhost:5000/ns/app:1.0", "localhost:5000", "ns/app", "1.0", None),
    ("us.icr.io/my_namespace/my_repo:1.0", "us.icr.io", "my_namespace/my_repo", "1.0", None),
    ("r.io/x@sha384:" + "a" * 96, "r.io", "x", None, "sha384:" + "a" * 96),
    ("redis:" + "a" * 128, HUB, "library/redis", "a" * 128, None),
    ("a" * 237, HUB, "library/" + "a" * 237, "latest", None),  # name exactly 255
    ("r.io/" + "a" * 250, "r.io", "a" * 250, "latest", None),
]


@pytest.mark.parametrize("text, registry, repository, tag, digest", VALID,
                         ids=[row[0][:60] for row in VALID])
def test_valid_references_parse_to_their_normalised_fields(text, registry, repository, tag,
                                                            digest):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag,
                                                                   digest)
    assert parse_reference(str(ref)) == ref


# input -> words the message must contain
INVALID = [
    ("", ["empty"]),
    (":justtag", ["repository name is missing"]),
    ("@" + F64, ["repository name is missing"]),
    ("repo@sha256:" + "f" * 34, ["bad digest", "needs 64 hex characters, got 34"]),
    ("validname@invaliddigest:" + "f" * 64, ["bad digest", "unsupported algorithm"]),
    ("redis@sha256:" + "F" * 64, ["bad digest", "lowercase"]),
    ("redis@md5:" + "f" * 32, ["bad digest", "unsupported algorithm 'md5'"]),
    ("redis@sha256", ["bad digest", "algorithm:hex"]),
    ("redis@", ["bad digest", "empty"]),
    ("redis@SHA256:" + "a" * 64, ["bad digest", "unsupported algorithm 'SHA256'"]),
    ("Uppercase:tag", ["uppercase 'U' at position 1", "must be lowercase"]),
    ("test:5000/Uppercase/lowercase:tag", ["uppercase 'U' at position 11", "must be lowercase"]),
    ("docker/Docker", ["uppercase 'D' at position 8", "must be lowercase"]),
    ("docker.io/docker/Docker", ["uppercase", "must be lowercase"]),
    ("Foo_bar/baz", ["uppercase 'F' at position 1"]),  # not a host, so a path: lowercase only
    ("aa/asdf$$^/aa", ["bad character '$' at position 8"]),
    ("redis ", ["bad character ' ' at position 6"]),
    (" redis", ["bad character ' ' at position 1"]),
    ("redis\n", ["bad character '\\n' at position 6"]),
    ("rédis", ["bad character 'é' at position 2"]),
    ("docker.io/library@/redis", ["bad character '@' at position 18"]),
    ("https://github.com/docker/docker", ["URL scheme", "https://"]),
    ("-docker", ["bad path component '-docker'"]),
    ("-docker/docker", ["bad path component '-docker'"]),
    ("docker-/docker", ["bad path component 'docker-'"]),
    ("-docker-/docker", ["bad path component"]),
    ("____/____", ["bad path component '____'"]),
    ("_docker/_docker", ["bad path component '_docker'"]),
    ("docker///docker", ["empty path component at position 8"]),
    ("docker.io/docker///docker", ["empty path component"]),
    ("docker/", ["empty path component at position 8"]),
    # a first component with '.' or ':' is a registry, as docker reads it
    ("-docker.io/docker/docker", ["bad registry '-docker.io'"]),
    ("dock..er/docker", ["bad registry 'dock..er'"]),
    ("dock_.er/docker", ["bad registry", "bad character '_' at position 5"]),
    ("dock-.er/docker", ["bad registry 'dock-.er'"]),
    ("a_b.c/d", ["bad registry 'a_b.c'", "'_' at position 2"]),  # distribution: empty domain
    ("r.io:/x", ["bad registry", "port", "empty"]),
    ("r.io:5x/app", ["bad registry", "bad character 'x' at position 7"]),
    ("[2001:db8::1]", ["registry alone"]),
    ("[2001:db8::1]:5000", ["registry alone"]),
    ("[2001:db8::1]:tag", ["registry alone"]),
    ("[fc00::1]", ["registry alone"]),
    ("[::1/app", ["bad registry", "never closed"]),
    ("[]:5000/app", ["bad registry", "empty"]),
    ("[0]/app", ["bad character '[' at position 1"]),  # no '.' or ':': not read as a registry
    ("fc00::1:5000/debian", ["bad registry", "brackets"]),
    ("[fe80::1%eth0]:5000/repo", ["bad registry", "bad character '%' at position 9"]),
    ("[fe80::1%@invalidzone]:5000/repo", ["bad character '@'"]),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", ["bad registry", "bad character '.'"]),
    (HEX64, ["cannot specify 64-byte hexadecimal strings"]),
    (F64, ["digest alone", "repository@digest"]),
    (SHA512, ["digest alone"]),
    ("redis:", ["bad tag", "empty"]),
    ("redis:-x", ["bad tag '-x'", "starts with '-'"]),
    ("redis:.x", ["bad tag '.x'", "starts with '.'"]),
    ("redis:a$b", ["bad tag 'a$b'", "bad character '$' at position 8"]),
    ("redis:" + "a" * 129, ["bad tag", "too long", "129"]),
    ("a" * 238, ["too long", "256 characters", "at most 255"]),
    ("r.io/" + "a" * 251, ["too long", "256 characters"]),
    ("a/" * 128 + "a:tag", ["too long"]),
    # distribution's Parse allows it (255 chars), but normalised it is "docker.io/" + 255 chars
    ("a/" * 127 + "a:tag-puts-this-over-max", ["too long", "265 characters"]),
    ("_".join(["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"] * 4)
     + "/docker",
     ["too long"]),
]


@pytest.mark.parametrize("text, words", INVALID, ids=[row[0][:60] or "empty" for row in INVALID])
def test_invalid_references_raise_bad_reference_naming_the_problem(text, words):
    with pytest.raises(BadReference) as caught:
        parse_reference(text)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert message.startswith(f"Invalid image reference {text!r}: ")  # quotes the input
    assert EXPECTED_FORM in message
    assert caught.value.reference == text
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text, namespace, name, reference, canonical", [
    ("redis", "library", "docker.io/library/redis", "latest", "docker.io/library/redis:latest"),
    ("us.icr.io/my_namespace/my_repo:1.0", "my_namespace", "us.icr.io/my_namespace/my_repo",
     "1.0", "us.icr.io/my_namespace/my_repo:1.0"),
    ("localhost:5000/app", "", "localhost:5000/app", "latest", "localhost:5000/app:latest"),
    ("r:5000/ns/team/app:1@" + F64, "ns", "r:5000/ns/team/app", F64, "r:5000/ns/team/app:1@" + F64),
    ("[::1]:5000/app@" + F64, "", "[::1]:5000/app", F64, "[::1]:5000/app@" + F64),
])
def test_properties_and_canonical_string(text, namespace, name, reference, canonical):
    ref = parse_reference(text)
    assert (ref.namespace, ref.name, ref.reference, str(ref)) == (namespace, name, reference,
                                                                  canonical)


def test_a_reference_passes_through_parse_unchanged():
    ref = parse_reference("redis")
    assert parse_reference(ref) is ref
    assert Reference.parse("redis") == ref


def test_parse_rejects_non_strings_as_a_programming_error():
    with pytest.raises(TypeError):
        parse_reference(None)  # type: ignore[arg-type]


def test_references_are_frozen_values():
    ref = parse_reference("redis:7")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.tag = "8"  # type: ignore[misc]
    assert ref == parse_reference("docker.io/library/redis:7")
    assert len({ref, parse_reference("index.docker.io/library/redis:7")}) == 1


def test_with_tag_replaces_the_tag_and_drops_the_digest():
    ref = parse_reference("r.io/ns/app:1@" + F64)
    assert str(ref.with_tag("2")) == "r.io/ns/app:2"
    with pytest.raises(BadReference, match="(?i)bad tag"):
        ref.with_tag("-2")


def test_with_digest_pins_the_digest_and_keeps_the_tag():
    ref = parse_reference("r.io/ns/app:1")
    assert str(ref.with_digest(F64)) == "r.io/ns/app:1@" + F64
    assert ref.with_digest(F64).reference == F64
    with pytest.raises(BadReference, match="(?i)bad digest"):
        ref.with_digest("sha256:abc")


@pytest.mark.parametrize("fields, expected", [
    (("docker.io", "redis"), "docker.io/library/redis:latest"),
    (("index.docker.io", "ns/app", "1"), "docker.io/ns/app:1"),
    (("r.io", "app", None, F64), "r.io/app@" + F64),
])
def test_the_constructor_normalises_like_parse(fields, expected):
    assert str(Reference(*fields)) == expected


@pytest.mark.parametrize("fields, words", [
    (("myhost", "app"), "read as a Docker Hub namespace"),  # "myhost/app" would be Docker Hub
    (("r.io", "App"), "must be lowercase"),
    (("", "app"), "registry is empty"),
    (("r.io", "app", "-1"), "bad tag"),
    (("r.io", "app", None, "sha256:abc"), "bad digest"),
    (("r.io", "a" * 251), "too long"),
])
def test_the_constructor_rejects_what_parse_would_not_give_back(fields, words):
    with pytest.raises(BadReference, match=re.escape(words)):
        Reference(*fields)


@pytest.mark.parametrize("tag, ok", [
    ("latest", True), ("1.0", True), ("_", True), ("A-b_C.9", True), ("a" * 128, True),
    ("a" * 129, False), ("", False), ("-1", False), (".1", False), ("a/b", False),
    ("a:b", False), ("é", False),
])
def test_validate_tag(tag, ok):
    if ok:
        assert validate_tag(tag) == tag
    else:
        with pytest.raises(BadReference, match="(?i)bad tag"):
            validate_tag(tag)


@pytest.mark.parametrize("digest, ok", [
    (F64, True), (D, True), (SHA512, True), ("sha384:" + "0" * 96, True),
    ("sha256:" + "f" * 63, False), ("sha256:" + "f" * 65, False), ("sha256:" + "F" * 64, False),
    ("sha512:" + "f" * 64, False), ("md5:" + "f" * 32, False), ("f" * 64, False),
    ("sha256:", False), ("", False), (":" + "f" * 64, False),
])
def test_validate_digest_and_is_digest(digest, ok):
    assert is_digest(digest) is ok
    if ok:
        assert validate_digest(digest) == digest
    else:
        with pytest.raises(BadReference, match="(?i)bad digest"):
            validate_digest(digest)


def test_is_digest_never_raises():
    assert is_digest(None) is False
    assert is_digest(42) is False


@pytest.mark.parametrize("path, ok", [
    ("app", True), ("ns/app", True), ("a/b/c", True), ("my_ns/my-app.v2", True),
    ("a" * 255, True), ("a" * 256, False), ("App", False), ("ns//app", False), ("/app", False),
    ("app/", False), ("-app", False), ("r.io:5000/app", False), ("", False),
])
def test_validate_repository(path, ok):
    if ok:
        assert validate_repository(path) == path
    else:
        with pytest.raises(BadReference):
            validate_repository(path)


# --- properties: references generated from the grammar ---

_lower_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_separator = st.sampled_from([".", "_", "__", "-", "--", "---"])


@st.composite
def path_components(draw) -> str:
    runs = draw(st.lists(_lower_alnum, min_size=1, max_size=3))
    return "".join(run if i == 0 else draw(_separator) + run for i, run in enumerate(runs))


paths = st.lists(path_components(), min_size=1, max_size=4).map("/".join)
_domain_component = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?",
                                  fullmatch=True)
# IPv6 in brackets; with a ':' inside, as every real one has, or docker would not see a host.
_ipv6 = st.from_regex(r"\[[a-fA-F0-9:]{0,8}:[a-fA-F0-9:]{0,8}\]", fullmatch=True)
_port = st.integers(0, 65535).map(lambda p: f":{p}")
registries = st.one_of(
    st.lists(_domain_component, min_size=2, max_size=4).map(".".join),  # has a '.'
    st.tuples(_domain_component, _port).map("".join),  # has a ':port'
    st.tuples(st.lists(_domain_component, min_size=2, max_size=3).map(".".join), _port)
    .map("".join),
    _ipv6,
    st.tuples(_ipv6, _port).map("".join),
    st.sampled_from(["localhost", "localhost:5000", "docker.io", "index.docker.io"]),
)
tags = st.from_regex(re.compile(r"\w[\w.-]{0,127}", re.ASCII), fullmatch=True)
digests = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__),
    st.text("0123456789abcdef", min_size=128, max_size=128).map("sha512:".__add__),
)


@settings(deadline=None)  # no upper bound on time in tests: a slow CI run is no bug
@given(registries, paths, st.none() | tags, st.none() | digests)
def test_generated_references_parse_to_their_parts_and_round_trip(registry, path, tag, digest):
    text = f"{registry}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    ref = parse_reference(text)
    hub = registry in ("docker.io", "index.docker.io")
    assert ref.registry == ("docker.io" if hub else registry)
    assert ref.repository == (f"library/{path}" if hub and "/" not in path else path)
    assert ref.tag == (tag if tag or digest else "latest")
    assert ref.digest == digest
    assert parse_reference(str(ref)) == ref
    assert str(parse_reference(str(ref))) == str(ref)


@settings(deadline=None)  # no upper bound on time in tests: a slow CI run is no bug
@given(paths, st.none() | tags, st.none() | digests)
@example("a_b.c/d", None, None)  # distribution: empty domain; here an error
def test_familiar_names_round_trip_or_are_rejected_for_a_non_host_first_part(path, tag, digest):
    text = path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assume(not is_digest(text) and not re.fullmatch(r"[a-f0-9]{64}", text))
    first = path.partition("/")[0]
    try:
        ref = parse_reference(text)
    except BadReference as error:
        # A first component with a '.' is read as a registry; with '_' it is not a host.
        assert "/" in path and "." in first and "_" in first, str(error)
        return
    assert parse_reference(str(ref)) == ref
    if "/" not in path or "." not in first:
        assert ref.registry == "docker.io"


_reference_chars = st.sampled_from(list("abz09AZ.-_:/@[]%$ \né"))


@st.composite
def mutated_references(draw) -> str:
    """A valid reference with a few characters replaced, inserted or deleted: the inputs
    closest to the edge of the grammar."""
    chars = list(draw(st.sampled_from([
        "docker.io/library/redis:latest", "[::1]:5000/app:1@" + F64, "r.io:5000/ns/app",
        "Foo/bar", "a.b/c__d--e/f.g:T_1", "redis@" + D,
    ])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        operation = draw(st.sampled_from(["replace", "insert", "delete"]))
        if operation == "insert":
            chars.insert(at, draw(_reference_chars))
        elif chars and at < len(chars):
            if operation == "replace":
                chars[at] = draw(_reference_chars)
            else:
                del chars[at]
    return "".join(chars)


@settings(deadline=None)  # no upper bound on time in tests: a slow CI run is no bug
@given(st.one_of(st.text(max_size=40), st.text(_reference_chars, max_size=40),
                 mutated_references()))
def test_any_text_parses_or_raises_bad_reference_with_a_specific_message(text):
    try:
        ref = parse_reference(text)
    except BadReference as error:
        # A user:password@ part is masked, everywhere: the secret is never echoed.
        masked = "(user and password masked)" in str(error)
        assert error.reference == text or masked and "***@" in error.reference
        assert EXPECTED_FORM in str(error)
        assert "does not follow the reference grammar" not in str(error)  # the fallback
    else:
        assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize("tag, expected", [
    ("sha256-" + "ab" * 32 + ".sig", ("sha256:" + "ab" * 32, "signature")),
    ("sha256-" + "ab" * 32 + ".att", ("sha256:" + "ab" * 32, "attestation")),
    ("sha256-" + "ab" * 32 + ".sbom", ("sha256:" + "ab" * 32, "sbom")),
    ("sha256-" + "ab" * 32, ("sha256:" + "ab" * 32, "referrers")),
    ("sha256-" + "ab" * 31 + ".sig", None),      # too short for a sha256
    ("sha256-" + "AB" * 32 + ".sig", None),      # digests are lowercase hex
    ("sha256-" + "ab" * 32 + ".sig2", None),
    ("1.0", None),
    ("latest", None),
])
def test_accessory_tags_are_recognised(tag, expected):
    from registry_widgets.reference import accessory_of, accessory_tags
    assert accessory_of(tag) == expected
    if expected:
        assert accessory_tags(expected[0])[tag] == expected[1]
