"""The Clean up tab's sections (issue 25): garbage collection (Preview, then Apply), usage
(bytes per namespace and repository, limits, the 80 % warning), the saved retention policy
and the protected tags, all driven by their buttons against real registries.

What a collection frees is checked on disk and with raw HTTP; usage against the blob sizes
pushed; policies and protected tags through the verbs that obey them (a retention preview
uses the saved policy; a removal is refused on a protected tag).
"""

from __future__ import annotations

import secrets

import pytest

from registry_widgets.operations.cleanup.storage import blob_bytes
from registry_widgets.operations.core import clients
from registry_widgets.operations.images import remove_plan
from registry_widgets.operations.images.remove import remove
from registry_widgets.errors import Protected
from registry_widgets.widgets import CleanupPanel
from tests.support import RawClient, push_image


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    remove_plan._tag_delete_supported.clear()
    yield
    clients.reset()


def settled(panel):
    try:
        panel.wait(timeout=120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the tests read last_error and the message
        pass
    return panel


def click(panel, button):
    button.click()
    return settled(panel)


def ok(part) -> None:
    assert part.last_error is None and part.message.kind == "status", part.message.text


def blob_status(reg, repository, digest) -> int:
    return RawClient(reg).request("GET", f"/v2/{repository}/blobs/{digest}",
                                  scope=f"repository:{repository}:pull").status_code


def test_gc_preview_says_what_it_frees_and_apply_frees_exactly_that(embedded):
    gone = push_image(embedded, "team/old", "1.0", layer_sizes=(40_000,), seed="gcs-old")
    kept = push_image(embedded, "team/new", "1.0", layer_sizes=(10_000,), seed="gcs-new")
    remove(f"{embedded.host}/team/old@{gone.digest}", force=True)
    panel = settled(CleanupPanel(embedded.host, "team"))
    gc = panel.gc
    assert gc.apply_button.disabled  # nothing previewed yet
    on_disk = blob_bytes(embedded.storage)

    click(panel, gc.preview_button)
    ok(gc)
    assert "would be freed" in gc.summary.value and not gc.apply_button.disabled
    assert gc.preview.details["eligible_bytes"] == gone.total_size
    assert blob_bytes(embedded.storage) == on_disk, "a preview deleted something"

    click(panel, gc.apply_button)
    ok(gc)
    assert on_disk - blob_bytes(embedded.storage) == gone.total_size
    assert "can no longer be restored from the Trash tab" in gc.message.text
    assert blob_status(embedded, "team/old", gone.layers[0].digest) == 404
    assert blob_status(embedded, "team/new", kept.layers[0].digest) == 200
    assert gc.apply_button.disabled  # a new Apply needs a new Preview


def test_gc_apply_without_a_preview_is_one_clear_error_and_another_registry_is_explained(
        registry):
    panel = settled(CleanupPanel(registry.host))
    with pytest.raises(ValueError, match="press Preview GC first"):
        panel.gc.apply()
    click(panel, panel.gc.preview_button)  # not the registry this package runs
    ok(panel.gc)
    assert "not the embedded registry" in panel.gc.summary.value
    assert "collect_garbage" not in panel.gc.summary.value  # the dashboard's words
    assert panel.gc.apply_button.disabled


def test_usage_shows_bytes_per_namespace_and_warns_at_80_percent(registry):
    ns = f"use-{secrets.token_hex(3)}"
    one = push_image(registry, f"{ns}/a", "1", layer_sizes=(50_000,), seed=ns + "a")
    push_image(registry, f"{ns}/b", "1", layer_sizes=(10_000,), seed=ns + "b")
    panel = settled(CleanupPanel(registry.host, ns))
    usage = panel.usage

    click(panel, usage.show_button)
    ok(usage)
    rows = usage.frame[usage.frame["namespace"] == ns]
    by_repo = dict(zip(rows["repository"], rows["bytes"]))
    # the config and the layers, as stored (the manifest itself is not counted)
    assert by_repo[f"{ns}/a"] == one.config.size + sum(layer.size for layer in one.layers)
    assert by_repo[""] == by_repo[f"{ns}/a"] + by_repo[f"{ns}/b"]

    usage.limit.value = str(int(by_repo[""] / 0.9))  # 90 % used: the warning
    click(panel, usage.set_limit_button)
    ok(usage)
    click(panel, usage.show_button)
    assert usage.message.kind == "error" and f"namespace {ns}" in usage.message.text
    assert "warning" in usage.message.text
    assert list(usage.frame.loc[(usage.frame["namespace"] == ns)
                                & (usage.frame["level"] == "namespace"), "status"]) == ["warning"]

    usage.limit.value = "lots"
    click(panel, usage.set_limit_button)
    assert usage.message.kind == "error" and "'limit of the namespace'" in usage.message.text
    usage.limit.value = ""
    click(panel, usage.set_limit_button)
    ok(usage)
    assert "no limit" in usage.message.text


def test_a_saved_policy_and_protected_tags_are_edited_in_the_tab(registry):
    ns = f"pol-{secrets.token_hex(3)}"
    for i, tag in enumerate(("1.0", "1.1", "latest")):
        push_image(registry, f"{ns}/app", tag, seed=f"{ns}-{tag}",
                   created=f"2024-0{i + 1}-01T00:00:00Z")
    panel = settled(CleanupPanel(registry.host, ns))
    policies = panel.policies
    assert "none saved" in policies.policy.value and "none" in policies.protected.value

    panel.keep.value = ""
    click(panel, policies.save_button)  # nothing typed above: one clear error
    assert policies.message.kind == "error" and "'keep newest'" in policies.message.text
    panel.keep.value = "1"
    click(panel, policies.save_button)
    ok(policies)
    assert "keep newest 1" in policies.policy.value

    policies.patterns.value = "latest"
    click(panel, policies.protect_button)
    ok(policies)
    assert "latest" in policies.protected.value
    with pytest.raises(Protected):  # the verbs obey what the tab saved
        remove(f"{registry.host}/{ns}/app:latest")

    # a new panel on the namespace starts from the saved policy
    again = settled(CleanupPanel(registry.host, ns))
    assert again.keep.value == "1"

    policies.patterns.value = "release-.*"
    click(panel, policies.unprotect_button)  # not protected: refused, nothing changes
    assert policies.message.kind == "error" and "not protected" in policies.message.text
    policies.patterns.value = "latest"
    click(panel, policies.unprotect_button)
    ok(policies)
    click(panel, policies.remove_button)
    ok(policies)
    assert "none saved" in policies.policy.value and "none" in policies.protected.value
