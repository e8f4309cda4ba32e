"""sync(semver=...): npm's range grammar, as a table; pure, no registry.

Each row is a range npm's documentation shows (node-semver's README: comparators, hyphen, X,
tilde and caret ranges, ``||``, pre-release tags) and the tags of ``TAGS`` it selects. The
table is the specification; ``test_the_table_is_what_node_semver_says`` checks it against
node-semver itself (npm's own copy) where node is installed, so the table cannot drift from
npm. The sync against a real registry is in test_sync.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from registry_widgets.errors import InvalidArgument
from registry_widgets.operations.mirror.plan import select_tags
from registry_widgets.operations.mirror.semver import npm_range, select, tag_version
from registry_widgets.operations.mirror.sync import sync

VERSIONS = ("0.0.3 0.0.4 0.2.3 0.2.9 0.3.0 1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 "
            "v1.10.0 2.0.0 2.3.9 3.1.0")
PRERELEASES = "1.2.0-rc1 1.2.3-beta.2 1.2.3-beta.4 1.2.4-beta.2 2.0.0-rc1"
# Tags that are no version: no range selects them (``1.2`` is not MAJOR.MINOR.PATCH, npm's
# semver.valid refuses ``V1.2.3`` and a leading zero).
NOT_VERSIONS = "latest nightly 1.2 V1.2.3 1.02.3 1.2.3.4 1.2.3_1 v"
TAGS = (VERSIONS + " " + PRERELEASES + " " + NOT_VERSIONS).split()

RANGES = [
    ("*", VERSIONS),
    ("", VERSIONS),  # npm: the empty range is any version
    ('1.2.3', "1.2.3"),
    ('=1.2.3', "1.2.3"),
    ('v1.2.3', "1.2.3"),
    ('>1.2.3', "1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9 3.1.0"),
    ('>=1.2.3', "1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9 3.1.0"),
    ('<1.2.3', "0.0.3 0.0.4 0.2.3 0.2.9 0.3.0 1.0.0 1.2.0"),
    ('<=1.2.3', "0.0.3 0.0.4 0.2.3 0.2.9 0.3.0 1.0.0 1.2.0 1.2.3"),
    ('>=1.2.0 <2.0.0', "1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('1.2.7 || >=1.2.9 <2.0.0', "1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('1.2 - 1.4', "1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9"),
    ('1.2.3 - 2.3', "1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9"),
    ('1.2.3 - 2', "1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9"),
    ('1.x', "1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('1.X', "1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('1.*', "1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('1.2.x', "1.2.0 1.2.3 1.2.4 1.2.9"),
    ('~1.2.3', "1.2.3 1.2.4 1.2.9"),
    ('~1.2', "1.2.0 1.2.3 1.2.4 1.2.9"),
    ('~1', "1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('~0.2.3', "0.2.3 0.2.9"),
    ('~0.2', "0.2.3 0.2.9"),
    ('~1.2.3-beta.2', "1.2.3 1.2.3-beta.2 1.2.3-beta.4 1.2.4 1.2.9"),
    ('^1.2.3', "1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('^0.2.3', "0.2.3 0.2.9"),
    ('^0.0.3', "0.0.3"),
    ('^1.2.3-beta.2', "1.2.3 1.2.3-beta.2 1.2.3-beta.4 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('^1.2.x', "1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('^0.0.x', "0.0.3 0.0.4"),
    ('^0.0', "0.0.3 0.0.4"),
    ('^1.x', "1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('^0.x', "0.0.3 0.0.4 0.2.3 0.2.9 0.3.0"),
    ('^1.2', "1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ('>= 1.2', "1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9 3.1.0"),
    ('~>1.2', "1.2.0 1.2.3 1.2.4 1.2.9"),
    ('<1.2', "0.0.3 0.0.4 0.2.3 0.2.9 0.3.0 1.0.0"),
    ('>1.2', "1.3.0 1.4.9 1.5.0 v1.10.0 2.0.0 2.3.9 3.1.0"),
    ('>=1.2.3-beta.3 <1.2.4', "1.2.3 1.2.3-beta.4"),
    ("^1.2.3-rc1 || 1.2.0-rc1", "1.2.0-rc1 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 1.5.0 v1.10.0"),
    ("<2.0.0-rc2", "0.0.3 0.0.4 0.2.3 0.2.9 0.3.0 1.0.0 1.2.0 1.2.3 1.2.4 1.2.9 1.3.0 1.4.9 "
                   "1.5.0 v1.10.0 2.0.0-rc1"),
    ("1.2.3+build.5", "1.2.3"),  # build metadata in a range is ignored
]


def test_the_table_has_one_row_per_range():
    assert len({r for r, _ in RANGES}) == len(RANGES)


@pytest.mark.parametrize("semver, expected", RANGES, ids=[r or "empty" for r, _ in RANGES])
def test_a_range_selects_the_tags_npm_selects(semver, expected):
    # In the tags' own order, as select_tags (what the plan calls) keeps it.
    assert select(TAGS, semver) == [t for t in TAGS if t in expected.split()]
    assert select_tags(TAGS, semver=semver) == select(TAGS, semver)


NODE_SEMVER = Path("/usr/lib/node_modules/npm/node_modules/semver")


@pytest.mark.skipif(not (shutil.which("node") and NODE_SEMVER.is_dir()),
                    reason="node-semver (npm's copy) is not installed here")
def test_the_table_is_what_node_semver_says():
    script = (f"const s = require({json.dumps(str(NODE_SEMVER))});"
              "const [ranges, tags] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(ranges.map(r => tags.filter("
              "t => s.valid(t) && s.satisfies(t, r)))));")
    out = subprocess.run(["node", "-e", script], input=json.dumps([[r for r, _ in RANGES], TAGS]),
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert {r: " ".join(sel) for (r, _), sel in zip(RANGES, json.loads(out))} == \
        {r: " ".join(t for t in TAGS if t in expected.split()) for r, expected in RANGES}


@pytest.mark.parametrize("tag, version", [
    ("1.2.3", "1.2.3"), ("v1.2.3", "1.2.3"), ("1.2.3-rc.1", "1.2.3-rc.1"),
    ("v0.0.0-0", "0.0.0-0"), ("1.2", None), ("V1.2.3", None), ("latest", None),
    ("01.2.3", None), ("1.2.3.4", None), ("vv1.2.3", None), ("1.2.3_1", None)])
def test_a_tag_is_a_version_with_an_optional_leading_v(tag, version):
    read = tag_version(tag)
    assert (str(read) if read is not None else None) == version


@pytest.mark.parametrize("semver", [
    ">=1.2,<2",  # PEP 440, what semver= took before: refused, not read another way
    "~=1.0", "==1.4.*", "about two", "latest", "x.1", "1.x.3", "1.2.3.4", ">=", "^",
    "1.2.3 -", "- 1.2", "1.2 - 1.4 - 1.6", ">=1.2 - 2", "1.2.3 ||| 2", "01.2.3", "1.2.3-"])
def test_an_invalid_range_is_one_clear_error_naming_semver_with_an_example(semver):
    with pytest.raises(InvalidArgument) as caught:
        npm_range(semver)
    message = str(caught.value)
    assert message.startswith(f"semver={semver!r} is not an npm version range")
    assert "'^1.2'" in message and "nothing was done" in message


def test_a_range_that_is_not_text_is_a_type_error_naming_semver():
    with pytest.raises(TypeError, match="semver must be an npm version range"):
        npm_range(2)


def test_sync_refuses_an_invalid_range_before_any_request():
    # Port 9 (discard) has no registry: any request would fail as Unreachable instead.
    with pytest.raises(InvalidArgument, match="semver="):
        sync("127.0.0.1:9/ns", "127.0.0.1:9/mirror", semver=">=1.2,<2", dry_run=True)
