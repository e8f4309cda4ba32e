"""usage(): bytes per namespace and repository, shared layers once, limits warn at 80 %.

Real registry; the expected bytes are computed from what the stack pushed (its own record of
every blob), not from the package's listing.
"""

from __future__ import annotations

import secrets

import pytest

from registry_widgets.errors import InvalidArgument
from registry_widgets.operations.core import clients
from registry_widgets.operations.cleanup.usage import parse_size, set_usage_limit, usage
from tests.support import push_image


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    yield
    clients.reset()


def blobs(*images):
    return {b.digest: b.size for image in images for b in (*image.layers, image.config)}


def test_shared_layers_count_once_per_level_and_limits_warn(registry):
    ns = f"use-{secrets.token_hex(3)}"
    shared = push_image(registry, f"{ns}/a", "1", layer_sizes=(40_000,), seed=f"{ns}-shared",
                        created="2024-01-01T00:00:00Z")
    a2 = push_image(registry, f"{ns}/a", "2", layers=None, layer_sizes=(40_000, 5_000),
                    seed=f"{ns}-shared", created="2024-01-02T00:00:00Z")  # same first layer
    b1 = push_image(registry, f"{ns}/b", "1", layer_sizes=(40_000,), seed=f"{ns}-shared",
                    created="2024-01-03T00:00:00Z")  # the same layer in another repository
    push_image(registry, f"{ns}/b", "latest", layer_sizes=(40_000,), seed=f"{ns}-shared",
               created="2024-01-03T00:00:00Z")  # a co-tag of b1: nothing more stored
    assert shared.layers[0].digest == a2.layers[0].digest == b1.layers[0].digest

    total = sum(blobs(shared, a2, b1).values())
    set_usage_limit(f"{registry.host}/{ns}", int(total / 0.85))  # 85 % used: a warning
    table = usage(registry.host, ns)
    rows = {(r.level, r.repository): r for r in table.itertuples()}
    assert rows[("repository", f"{ns}/a")].bytes == sum(blobs(shared, a2).values())
    assert rows[("repository", f"{ns}/b")].bytes == sum(blobs(b1).values())
    assert rows[("repository", f"{ns}/b")].images == 1 and rows[("repository", f"{ns}/b")].tags == 2
    namespace = rows[("namespace", "")]
    assert namespace.bytes == total < rows[("repository", f"{ns}/a")].bytes + \
        rows[("repository", f"{ns}/b")].bytes
    assert namespace.status == "warning" and namespace.percent == pytest.approx(85, abs=0.2)
    assert table.attrs["warnings"] and ns in table.attrs["warnings"][0]

    over = usage(registry.host, ns, limits={ns: total - 1})
    assert over[over.level == "namespace"].status.item() == "over limit"
    fine = usage(registry.host, ns, limits={ns: "1GB"})
    assert fine[fine.level == "namespace"].status.item() == "ok" and not fine.attrs["warnings"]


@pytest.mark.parametrize("text, expected", [(5000, 5000), ("500MB", 500_000_000),
                                            ("2GiB", 2 << 30), ("1.5 kB", 1500)])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-1", 0, "5 parsecs", True])
def test_bad_sizes(text):
    with pytest.raises(InvalidArgument, match="not a size"):
        parse_size(text)
