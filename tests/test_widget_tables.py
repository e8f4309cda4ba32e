"""The widgets' table logic as plain functions over hand-made DataFrames: no kernel, no
registry. What a browser receives (display frames) and how a selection maps back."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from registry_widgets.operations.images.remove import IndexRef, RemovalPlan
from registry_widgets.widgets import tables as t

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
R = "127.0.0.1:5000"


def image_rows(n: int = 3) -> pd.DataFrame:
    """An ``images()``-shaped frame: one row per tag; rows 0 and 1 share a digest."""
    rows = []
    for i in range(n):
        repo = "team/app" if i < 2 else f"other/tool{i}"
        tag = ["1.0", "latest"][i] if i < 2 else f"v{i}"
        digest = D1 if i < 2 else "sha256:" + f"{i:064x}"
        multi = i == 2
        rows.append({
            "namespace": repo.split("/")[0], "repository": repo, "tag": tag, "digest": digest,
            "media_type": "application/vnd.oci.image.index.v1+json" if multi
            else "application/vnd.oci.image.manifest.v1+json",
            "platforms": ["linux/amd64", "linux/arm64/v8"] if multi else ["linux/amd64"],
            "size": 1_234_567 * (i + 1),
            "size_per_platform": {"linux/amd64": 1000, "linux/arm64/v8": 2000} if multi
            else {"linux/amd64": 1_234_567 * (i + 1)},
            "created": pd.Timestamp("2024-02-01T12:00:00Z") + pd.Timedelta(days=i),
            "labels": {"org.opencontainers.image.version": tag},
            "reference": f"{R}/{repo}:{tag}"})
    frame = pd.DataFrame(rows)
    frame["created"] = frame["created"].astype("datetime64[us, UTC]")
    return frame


@pytest.mark.parametrize("size, text", [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1_234_567, "1.2 MB"),
    (5 * 10**9, "5.0 GB"), (None, ""), (float("nan"), ""), (2 * 10**18, "2000.0 PB"),
])
def test_human_size_uses_docker_decimal_units(size, text):
    assert t.human_size(size) == text


@pytest.mark.parametrize("value, text", [
    (D1, "sha256:aaaaaaaaaaaa"), ("", ""), (None, ""), ("abc", "abc"),
])
def test_short_digest_keeps_the_algorithm(value, text):
    assert t.short_digest(value) == text


@pytest.mark.parametrize("value, text", [
    ("2024-02-01T12:00:00Z", "2024-02-01 12:00"), (pd.Timestamp("2024-02-01T12:00:05+01:00"),
                                                    "2024-02-01 11:00"),
    (None, ""), (pd.NaT, ""), ("not a date", ""),
])
def test_format_time_is_utc_to_the_minute(value, text):
    assert t.format_time(value) == text


def test_platforms_and_labels_are_joined_and_labels_cut_short():
    assert t.join_platforms(["linux/amd64", None, "linux/arm64/v8"]) == \
        "linux/amd64, linux/arm64/v8"
    assert t.join_platforms(None) == ""
    assert t.format_labels({"b": "2", "a": "1"}) == "a=1; b=2"
    long = t.format_labels({"k": "x" * 200})
    assert len(long) == t.LABELS_MAX and long.endswith("…")
    assert t.format_labels({}) == "" and t.format_labels(None) == ""


def test_image_display_is_one_short_row_per_tag_in_the_same_order():
    frame = image_rows()
    display = t.image_display(frame)
    assert list(display.columns) == ["repository", "tag", "digest", "platforms", "size",
                                     "created", "labels", "bytes", "tag order"]
    assert len(display) == len(frame)
    assert display.loc[2, "platforms"] == "linux/amd64, linux/arm64/v8"
    assert display.loc[0, "digest"] == "sha256:aaaaaaaaaaaa"
    assert display.loc[1, "size"] == "2.5 MB" and display.loc[1, "bytes"] == 2_469_134
    assert display.loc[0, "created"] == "2024-02-01 12:00"
    assert display.loc[0, "labels"] == "org.opencontainers.image.version=1.0"
    # The display of a filtered frame is renumbered 0..n-1: position i is row i of its source.
    sub = frame.iloc[[2, 0]]
    assert list(t.image_display(sub)["tag"]) == list(sub["tag"])


def test_image_display_of_an_empty_listing():
    empty = pd.DataFrame(columns=image_rows().columns)
    assert t.image_display(empty).empty


def test_size_sorts_by_the_hidden_bytes_column():
    defs = t.size_column_defs(["repository", "size", "bytes"])
    assert {"targets": [2], "visible": False, "searchable": False} in defs
    assert {"targets": [1], "orderData": [2]} in defs
    assert t.size_column_defs(["repository"]) == []


def test_namespace_display():
    frame = pd.DataFrame({
        "namespace": ["team", "empty"], "repositories": [2, 0], "tags": [5, 0],
        "size": [3_000_000, 0],
        "last_pushed": pd.to_datetime(["2024-03-01T08:00:00Z", None], utc=True),
        "declared": [False, True]})
    display = t.namespace_display(frame)
    assert list(display.columns) == ["namespace", "repositories", "tags", "size",
                                     "newest image", "bytes"]
    assert display.loc[0, "size"] == "3.0 MB"
    assert display.loc[0, "newest image"] == "2024-03-01 08:00"
    assert display.loc[1, "newest image"] == "" and display.loc[1, "tags"] == 0


@pytest.mark.parametrize("query, tags", [
    ("", ["1.0", "latest", "v2"]),
    ("arm64", ["v2"]),                        # any column: platforms
    ("platforms:amd64", ["1.0", "latest", "v2"]),
    ("tag:1.0", ["1.0"]),
    ("TEAM latest", ["latest"]),              # every term must match, case-insensitive
    ("labels:version=v2", ["v2"]),
    ('"team/app"', ["1.0", "latest"]),
    ("nothing-like-this", []),
])
def test_filter_frame(query, tags):
    assert list(t.filter_frame(image_rows(), query)["tag"]) == tags


def test_filter_frame_keeps_the_index_and_filters_a_namespace_exactly():
    frame = image_rows()
    out = t.filter_frame(frame, namespace="other")
    assert list(out.index) == [2]
    with pytest.raises(ValueError, match="no column 'colour'"):
        t.filter_frame(frame, "colour:red")


def test_selected_rows_map_back_to_full_rows():
    frame = image_rows()
    shown = t.filter_frame(frame, "team")
    # positions are into the shown frame, in selection order, each once, stale ones dropped
    assert t.selected_references(shown, [1, 0, 1, 7]) == [f"{R}/team/app:latest",
                                                          f"{R}/team/app:1.0"]
    assert t.rows_at(shown, []).empty


def test_digest_reference_and_pull_command():
    row = image_rows().iloc[0]
    assert t.digest_reference(row) == f"{R}/team/app@{D1}"
    assert t.pull_command(row["reference"]) == f"docker pull {R}/team/app:1.0"
    assert t.pull_command("busybox") == "docker pull docker.io/library/busybox:latest"


def test_inspect_text_lists_digest_platforms_labels_size_and_pull():
    text = t.inspect_text(image_rows().iloc[2])
    for piece in ("sha256:" + f"{2:064x}", "linux/amd64, linux/arm64/v8",
                  "  linux/arm64/v8: 2.0 kB",
                  "org.opencontainers.image.version=v2", "3.7 MB",
                  f"docker pull {R}/other/tool2:v2", f"docker pull {R}/other/tool2@sha256:"):
        assert piece in text


@pytest.mark.parametrize("source, registry, namespace, tag, target", [
    (f"{R}/team/app:1.0", "r2:5000", "", "", "r2:5000/team/app:1.0"),
    (f"{R}/team/app:1.0", "r2:5000", "prod", "", "r2:5000/prod/app:1.0"),
    (f"{R}/team/app:1.0", " r2:5000 ", "prod", "stable", "r2:5000/prod/app:stable"),
    (f"{R}/team/sub/app:1", "r2:5000", "x", "", "r2:5000/x/sub/app:1"),
])
def test_copy_target(source, registry, namespace, tag, target):
    assert t.copy_target(source, registry, namespace, tag) == target


def test_copy_target_needs_a_registry():
    with pytest.raises(ValueError, match="target registry"):
        t.copy_target(f"{R}/team/app:1.0", " ")


@pytest.mark.parametrize("local, target", [
    ("hello:1.0", f"{R}/team/hello:1.0"),
    ("docker.io/library/busybox", f"{R}/team/busybox:latest"),
    ("127.0.0.1:6000/a/b/c:2", f"{R}/team/c:2"),
])
def test_push_target(local, target):
    assert t.push_target(local, R, "team") == target


def test_push_target_needs_a_namespace():
    with pytest.raises(ValueError, match="choose a namespace"):
        t.push_target("hello:1.0", R, None)


@pytest.mark.parametrize("text, target", [
    ("hello:1.0", f"{R}/team/hello:1.0"),
    ("hello", f"{R}/team/hello:latest"),
    (" 127.0.0.1:6000/x/y:2 ", "127.0.0.1:6000/x/y:2"),
    ("localhost/x:1", "localhost/x:1"),
])
def test_build_target(text, target):
    assert t.build_target(text, R, "team") == target


@pytest.mark.parametrize("text, namespace, message", [
    ("", "team", "give the image a name"), ("hello:1.0", None, "choose a namespace"),
])
def test_build_target_says_what_is_missing(text, namespace, message):
    with pytest.raises(ValueError, match=message):
        t.build_target(text, R, namespace)


def plan(kind="tag", tag="1.0", tags_removed=("1.0",), co_tags=("latest",), blocked=(),
         freed=0, repository="team/app", digest=D1):
    return RemovalPlan(R, repository, kind, digest, tuple(tags_removed), tuple(co_tags),
                       "tag-delete" if kind == "tag" else "manifest-delete", tuple(blocked),
                       freed, tag=tag if kind == "tag" else None)


def test_plan_text_for_a_tag_lists_it_and_its_co_tags_and_deletes_no_digest():
    text = t.plan_text([plan()])
    assert f"Remove tag {R}/team/app:1.0" in text
    assert "tags latest (same digest)" in text
    assert "1 tag and 0 digests removed" in text
    assert "Tags that go: team/app:1.0" in text
    assert "Nothing has been deleted yet" in text


def test_plan_text_for_a_digest_lists_every_tag_and_the_bytes():
    text = t.plan_text([plan("digest", tags_removed=("1.0", "latest"), co_tags=(), freed=2_500_000),
                        plan("digest", tags_removed=("v2",), co_tags=(), freed=500_000,
                             repository="other/tool", digest=D2)])
    assert "every tag on it: 1.0, latest" in text
    assert "3 tags and 2 digests removed, up to 3.0 MB freed" in text


def test_plan_text_counts_blocked_plans_out():
    blocked = plan("digest", tags_removed=(), co_tags=(), freed=10,
                   blocked=(IndexRef(D2, ("multi",)),))
    text = t.plan_text([blocked])
    assert "BLOCKED" in text and "0 tags and 0 digests removed" in text
    assert "1 of these are BLOCKED" in text
    assert t.plan_text([]).startswith("Nothing selected")


def test_namespace_plan_text_lists_repositories_tags_and_digests():
    text = t.namespace_plan_text("team", {
        "repositories": ["team/app"], "tags_removed": ["team/app:1.0", "team/app:latest"],
        "digests": [f"team/app@{D1}"], "bytes_freed_estimate": 4000})
    assert "1 repositories:\n  team/app" in text
    assert "2 tags:\n  team/app:1.0\n  team/app:latest" in text
    assert f"1 digests:\n  team/app@{D1}" in text
    assert "4.0 kB" in text and "Nothing has been deleted yet" in text
    assert "0 repositories" in t.namespace_plan_text("empty", {})


def test_export_frame_flattens_lists_and_dicts_for_csv(tmp_path):
    path = tmp_path / "out.csv"
    t.export_frame(image_rows()).to_csv(path, index=False)
    back = pd.read_csv(path)
    assert list(back["platforms"])[2] == "linux/amd64, linux/arm64/v8"
    assert back["digest"][0] == D1
    assert back["labels"][0] == "org.opencontainers.image.version=1.0"


def test_ten_thousand_tags_make_a_small_display_frame():
    base = image_rows(1)
    frame = pd.concat([base] * 10_000, ignore_index=True)
    frame["tag"] = [f"t{i}" for i in range(10_000)]
    frame["reference"] = [f"{R}/team/app:t{i}" for i in range(10_000)]
    display = t.image_display(frame)  # its speed is measured in benchmarks, not asserted here
    payload = len(json.dumps(display.values.tolist()))
    assert payload < 2_000_000  # about 150 bytes a row: the browser gets ~1.5 MB
    shown = t.filter_frame(frame, "t9999")
    assert t.selected_references(shown, [0]) == [f"{R}/team/app:t9999"]
    assert t.selected_references(frame, [9_999]) == [f"{R}/team/app:t9999"]


def test_pull_commands_in_docker_podman_and_digest_pinned_forms():
    commands = t.pull_commands(image_rows().iloc[[1, 2]])
    assert commands["docker"] == [f"docker pull {R}/team/app:latest",
                                  f"docker pull {R}/other/tool2:v2"]
    assert commands["podman"] == [f"podman pull {R}/team/app:latest",
                                  f"podman pull {R}/other/tool2:v2"]
    assert commands["digest-pinned"] == [f"docker pull {R}/team/app@{D1}",
                                         f"docker pull {R}/other/tool2@sha256:{2:064x}"]


def test_clipboard_buttons_carry_the_text_escaped():
    from registry_widgets.widgets.clipboard import clipboard_buttons

    html_ = clipboard_buttons({"docker": 'docker pull r/a:"x"<y>', "podman": "podman pull r/a"})
    assert 'data-text="docker pull r/a:&quot;x&quot;&lt;y&gt;"' in html_
    assert "rw-clipboard-docker" in html_ and "rw-clipboard-podman" in html_
    assert "navigator.clipboard" in html_ and "execCommand" in html_  # secure or not


def test_export_json_keeps_lists_and_labels_and_iso_times():
    rows = json.loads(t.export_json(image_rows().iloc[[2]]))
    assert rows[0]["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    assert rows[0]["labels"] == {"org.opencontainers.image.version": "v2"}
    assert rows[0]["created"].startswith("2024-02-03T12:00:00")
    assert rows[0]["digest"] == f"sha256:{2:064x}"


def test_export_encodes_exactly_the_rows_given():
    from registry_widgets.widgets.export import encode

    shown = t.filter_frame(image_rows(), "tag:latest")
    back = pd.read_csv(pd.io.common.BytesIO(encode(shown, "csv")))
    assert list(back["tag"]) == ["latest"]
    assert [r["tag"] for r in json.loads(encode(shown, "json"))] == ["latest"]
    with pytest.raises(ValueError, match="csv or json"):
        encode(shown, "xml")


@pytest.mark.parametrize("text, pairs", [
    ("", {}), ("A=1", {"A": "1"}), ("A=1, B = two words ,", {"A": "1", "B": "two words"}),
    ("A=1\nB=", {"A": "1", "B": ""}), ("URL=http://x/?a=b", {"URL": "http://x/?a=b"})])
def test_build_args_and_labels_are_key_value_pairs(text, pairs):
    from registry_widgets.widgets.build_panel import parse_pairs

    assert parse_pairs(text, "build args") == pairs


def test_a_pair_without_equals_is_one_clear_error():
    from registry_widgets.widgets.build_panel import parse_pairs

    with pytest.raises(ValueError, match="build args are KEY=VALUE pairs.*'VERSION'"):
        parse_pairs("A=1, VERSION", "build args")


def test_result_text_says_what_happened_in_the_users_units():
    from registry_widgets.operations.core.result import Result
    from registry_widgets.widgets.messages import result_text

    copied = Result("copy", source="a/x:1", target="b/x:1", digest=D1, bytes_moved=0,
                    duration=0.25, details={"blobs": {"copied": 0, "mounted": 4, "skipped": 0}})
    assert result_text(copied) == (f"copy a/x:1 -> b/x:1: {D1} (0 blobs copied, 4 blobs "
                                   "mounted, 0 bytes moved, 0.25 s)")
    moved = Result("copy", source="a", target="b", digest=D1, bytes_moved=2_500_000,
                   details={"blobs": {"copied": 3, "mounted": 0, "skipped": 1}})
    assert "3 blobs copied, 1 blob already there, 2.5 MB moved" in result_text(moved)
    removed = Result("remove", target="r/x:1", digest=D1, details={"tags_removed": ["1"]})
    assert "1 tag removed" in result_text(removed) and "bytes" not in result_text(removed)


def test_registry_state_line():
    from registry_widgets.errors import Unreachable
    from registry_widgets.widgets.registry_bar import state_text

    assert state_text("r:1", {"url": "https://r:1", "auth": "bearer"}, None, "alice") == \
        "● r:1: reachable · logged in as alice · TLS verified (https)"
    assert state_text("r:1", {"url": "http://r:1", "auth": "none"}, None, None) == \
        "● r:1: reachable · anonymous · plain HTTP"
    line = state_text("r:1", None, Unreachable("connection refused by r:1. Start it"), None)
    assert line == "⚠ r:1: down: connection refused by r:1"
