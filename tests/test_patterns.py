"""Tag patterns cannot hang a write: they are matched in linear time (RE2).

``(a+)+`` against ``aaaa...b`` takes Python's backtracking ``re`` exponential time: with
60 a's, longer than anyone waits. Each test below simply returns; there is no time
assertion (a hung test is the failure, ended by the suite's timeout). Patterns RE2 cannot
match in linear time (backreferences, lookaround) are refused naming the option, and change
nothing. The oracle (raw HTTP) says which tags are still there.
"""

from __future__ import annotations

import pytest

from registry_widgets.errors import InvalidArgument
from registry_widgets.operations.cleanup.retention import retention
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.core.patterns import compile_pattern
from registry_widgets.operations.images.protection import protect, protected_patterns
from registry_widgets.operations.images.remove import remove
from registry_widgets.operations.mirror.sync import sync
from tests.support import RawClient, push_image
from tests.support.oracle import list_tags

EVIL = "(a+)+"  # exponential for a backtracking matcher on "aaa...b"
EVIL_SEARCHED = "(a+)+$"  # the same, for a pattern that is searched (sync's tags=)
LONG_TAG = "a" * 60 + "b"


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


@pytest.fixture
def seeded(registry, unique_repo):
    """The long tag and 1.0, each its own image; returns (namespace, repository)."""
    push_image(registry, unique_repo, LONG_TAG, seed=f"{unique_repo}-long",
               created="2020-01-01T00:00:00Z")
    push_image(registry, unique_repo, "1.0", seed=f"{unique_repo}-1",
               created="2024-01-01T00:00:00Z")
    return unique_repo.split("/")[0], unique_repo


def test_a_saved_catastrophic_pattern_does_not_hang_remove(registry, seeded):
    namespace, repository = seeded
    protect(f"{registry.host}/{namespace}", EVIL)
    ref = f"{registry.host}/{repository}:{LONG_TAG}"

    assert remove(ref, dry_run=True).details["protected"] == {}
    remove(ref)

    assert list_tags(registry, repository) == ["1.0"]


def test_a_catastrophic_tags_filter_does_not_hang_retention(registry, seeded):
    namespace, repository = seeded
    plan = retention(f"{registry.host}/{repository}", keep=1, tags=EVIL)

    rows = {r["tag"]: r["action"] for r in plan.details["plan"]}
    assert rows == {"1.0": "keep", LONG_TAG: "keep"}  # (a+)+ matches no tag whole
    assert sorted(list_tags(registry, repository)) == sorted(["1.0", LONG_TAG])


def test_a_catastrophic_tags_filter_does_not_hang_sync(registry, registry_b, seeded):
    namespace, repository = seeded
    plan = sync(f"{registry.host}/{repository}", f"{registry_b.host}/{namespace}/copy",
                tags=EVIL_SEARCHED, dry_run=True)

    assert plan.dry_run and plan.details["counts"] == {}
    r = RawClient(registry_b).request("GET", f"/v2/{namespace}/copy/tags/list")
    assert r.status_code == 404, "a dry run wrote nothing"


@pytest.mark.parametrize("pattern, feature", [
    (r"(a)\1", "backreferences"),
    (r"(?P<x>a)(?P=x)", "backreferences"),
    (r"rel(?=ease)", "lookahead"),
    (r"(?<!v)1", "lookbehind"),
])
def test_python_only_syntax_is_refused_naming_the_option(registry, registry_b, seeded, pattern,
                                                         feature):
    namespace, repository = seeded
    before = journal.size()
    calls = {
        "patterns": lambda: protect(f"{registry.host}/{namespace}", pattern),
        "tags": lambda: retention(f"{registry.host}/{repository}", keep=1, tags=pattern),
        "protect": lambda: retention(f"{registry.host}/{repository}", keep=1, protect=pattern),
    }
    for option, call in calls.items():
        with pytest.raises(InvalidArgument) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{option}: {pattern!r}") and feature in message, message
        assert "linear time" in message and "nothing was done" in message
    with pytest.raises(ValueError, match=rf"^tags: .*{feature}"):
        sync(f"{registry.host}/{repository}", f"{registry_b.host}/{namespace}/copy",
             tags=pattern, dry_run=True)

    assert protected_patterns(registry.host, namespace) == []
    assert journal.size() == before
    assert sorted(list_tags(registry, repository)) == sorted(["1.0", LONG_TAG])


@pytest.mark.parametrize("pattern, tag, whole, found", [
    ("latest", "latest", True, True),
    ("latest", "latest-rc", False, True),
    (r"release-.*", "release-1.2", True, True),
    (r"v\d+", "v12", True, True),
    (r"^1[.]", "1.0", False, True),
    ("(?i)LATEST", "latest", True, True),
    (EVIL, LONG_TAG, False, True),
    (EVIL_SEARCHED, LONG_TAG, False, False),
])
def test_patterns_answer_as_python_re_would(pattern, tag, whole, found):
    matcher = compile_pattern(pattern, option="tags")
    assert matcher.pattern == pattern
    assert bool(matcher.fullmatch(tag)) is whole
    assert bool(matcher.search(tag)) is found


@pytest.mark.parametrize("pattern, says", [
    ("(", "not a valid regular expression"),
    ("", "leave the option out"),
    (5, "not a regular expression"),
])
def test_a_bad_pattern_gets_one_clear_error(pattern, says):
    with pytest.raises(InvalidArgument, match=f"^tags: .*{says}"):
        compile_pattern(pattern, option="tags")
