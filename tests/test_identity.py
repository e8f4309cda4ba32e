"""One registry, one identity: state and guards do not split by how the registry was spelled.

Protected tags, retention policies, the trash (the journal's backups) and configured
credentials are keyed by ``registry_identity``: a tag protected on ``127.0.0.1:PORT`` stays
protected through ``localhost:PORT``, and state files written with another spelling are
still found. The registries here listen on 127.0.0.1; ``localhost:PORT`` reaches the same
one. The oracle (raw HTTP, ``tests/support``) says which tags are still there.
"""

from __future__ import annotations

import json

import pytest

import registry_widgets as rw
from registry_widgets import paths
from registry_widgets.errors import BadReference, Protected
from registry_widgets.operations.cleanup.retention import retention
from registry_widgets.operations.cleanup.trash import restore_from_trash, trash
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.protection import protect, protected_patterns
from registry_widgets.operations.images.remove import remove
from registry_widgets.reference import registry_identity
from tests.support import RawClient, push_image
from tests.support.oracle import ACCEPT_ALL, list_tags

OLD = "2020-01-01T00:00:00Z"
NEW = "2024-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def localhost(registry) -> str:
    """The same registry, spelled another way."""
    return f"localhost:{registry.port}"


# -- the identity function (pure) ------------------------------------------------------------

@pytest.mark.parametrize("spelling, identity", [
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("localhost:5000", "127.0.0.1:5000"),
    ("LocalHost:5000", "127.0.0.1:5000"),
    ("[::1]:5000", "127.0.0.1:5000"),
    ("[0:0:0:0:0:0:0:1]:5000", "127.0.0.1:5000"),
    ("::1", "127.0.0.1"),
    ("localhost", "127.0.0.1"),
    ("http://localhost:5000/", "127.0.0.1:5000"),
    ("localhost:05000", "127.0.0.1:5000"),
    ("127.0.0.2:5000", "127.0.0.2:5000"),  # another loopback address: another server
    ("Registry.Example.COM", "registry.example.com"),
    ("registry.example.com:443", "registry.example.com"),
    ("https://Registry.Example.com:443", "registry.example.com"),
    ("registry.example.com:5000", "registry.example.com:5000"),
    ("registry.example.com:80", "registry.example.com:80"),
    ("docker.io", "docker.io"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("Index.Docker.IO:443", "docker.io"),
    ("docker.io:5000", "docker.io:5000"),
    ("[FE80::1]:5000", "[fe80::1]:5000"),
    ("us.icr.io", "us.icr.io"),
])
def test_registry_identity(spelling, identity):
    assert registry_identity(spelling) == identity
    assert registry_identity(identity) == identity  # an identity is its own identity


@pytest.mark.parametrize("bad", ["", "a b", "ftp://r.io", "r.io/ns", "user:pw@r.io", 5])
def test_registry_identity_refuses_what_names_no_registry(bad):
    with pytest.raises(BadReference) as caught:
        registry_identity(bad)
    assert "pw" not in str(caught.value)


# -- protected tags hold through every spelling ----------------------------------------------

def seed(registry, repository):
    """latest (old) and 1.0, 2.0 (new), each its own image."""
    images = {tag: push_image(registry, repository, tag, seed=f"{repository}-{tag}",
                              created=created)
              for tag, created in (("latest", OLD), ("1.0", NEW), ("2.0", NEW))}
    return {tag: image.digest for tag, image in images.items()}


@pytest.mark.parametrize("protected_on, removed_on", [
    ("host", "localhost"), ("localhost", "host")])
def test_a_tag_protected_on_one_spelling_is_not_removed_through_another(
        registry, unique_repo, protected_on, removed_on):
    spell = {"host": registry.host, "localhost": localhost(registry)}
    namespace = unique_repo.split("/")[0]
    digests = seed(registry, unique_repo)
    protect(f"{spell[protected_on]}/{namespace}", "latest")

    ref = f"{spell[removed_on]}/{unique_repo}"
    assert remove(f"{ref}:latest", dry_run=True).details["protected"] == {"latest": "latest"}
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{ref}:latest")
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{ref}@{digests['latest']}")

    assert sorted(list_tags(registry, unique_repo)) == ["1.0", "2.0", "latest"]


def test_retention_through_another_spelling_keeps_the_protected_tag(registry, unique_repo):
    namespace = unique_repo.split("/")[0]
    seed(registry, unique_repo)
    protect(f"{registry.host}/{namespace}", "latest")

    target = f"{localhost(registry)}/{unique_repo}"
    dry = retention(target, keep=1)
    rows = {r["tag"]: r for r in dry.details["plan"]}
    assert rows["latest"]["action"] == "keep" and "protected" in rows["latest"]["reason"]
    retention(target, keep=1, dry_run=False, plan=dry)

    assert "latest" in list_tags(registry, unique_repo)


def test_a_policies_file_written_with_another_spelling_is_still_obeyed(registry, unique_repo):
    # As an older version wrote it: keyed by the spelling the user typed.
    namespace = unique_repo.split("/")[0]
    seed(registry, unique_repo)
    file = paths.policies_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({
        f"LOCALHOST:{registry.port}/{namespace}": {"protected_tags": ["latest"]},
        f"[::1]:{registry.port}/{namespace}": {"protected_tags": ["2\\..*"]}}))

    assert protected_patterns(registry.host, namespace) == ["latest", "2\\..*"]
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{registry.host}/{unique_repo}:latest")
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{registry.host}/{unique_repo}:2.0")
    assert sorted(list_tags(registry, unique_repo)) == ["1.0", "2.0", "latest"]


# -- the trash and the journal -----------------------------------------------------------------

def test_the_trash_lists_and_restores_across_spellings(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed=unique_repo, created=NEW)
    rw.remove(f"{localhost(registry)}/{unique_repo}@{image.digest}", force=True)  # its only image
    assert list_tags(registry, unique_repo) == []

    for spelling in (registry.host, localhost(registry), f"http://LOCALHOST:{registry.port}"):
        frame = trash(spelling, check=False)
        assert list(frame["digest"]) == [image.digest], spelling
    # Rows keep the spelling the remove was given: the registry they were deleted from.
    assert list(trash(registry.host, check=False)["registry"]) == [localhost(registry)]

    restore_from_trash(f"{registry.host}/{unique_repo}:1.0")
    r = RawClient(registry).request("HEAD", f"/v2/{unique_repo}/manifests/1.0",
                                    scope=f"repository:{unique_repo}:pull",
                                    headers={"Accept": ACCEPT_ALL})
    assert r.headers.get("Docker-Content-Digest") == image.digest


# -- configured credentials serve every spelling; requests go where the user pointed -----------

def test_configured_credentials_serve_another_spelling_of_the_registry(basic_registry,
                                                                       unique_repo):
    push_image(basic_registry, unique_repo, "1.0", seed=unique_repo)
    clients.configure(basic_registry.url, credentials=basic_registry.auth,
                      ca_bundle=str(basic_registry.ca_file))

    other = clients.client_for(f"LOCALHOST:{basic_registry.port}")
    assert list(other.tags(unique_repo)) == ["1.0"]  # anonymous would be 401
    # A key, not an address: that client talks to the host it was given.
    assert other.registry == f"LOCALHOST:{basic_registry.port}"
    assert other is not clients.client_for(basic_registry.host)
