"""Which repositories a verb reads: the catalog, else those named, else those remembered.

The catalog (``/v2/_catalog``) is not part of the OCI distribution spec, and the registries
people name first refuse it: Docker Hub and GHCR answer 401 or 403. Every verb that needs a
registry's or a namespace's repositories (``images``, ``namespaces``, ``usage``,
``retention``, ``sync``, ``prune``, ``remove_namespace``) asks :func:`repositories_to_read`,
so they all decide the same way:

1. ``repositories=`` given: exactly those, and the catalog is not asked;
2. else the catalog;
3. refused: the repositories remembered for that registry (typed once in the image table's
   Repositories box, or :func:`remember_repositories`), said so in the verb's notes ("3
   repositories you named; this registry does not list its own");
4. none remembered: one error saying which refusal it was. A 401 is "not logged in" (log in
   and retry); a 403 is "logged in, without the right to read the catalog" (name the
   repositories).

The remembered names are the state store's ``repositories`` document (``core.state``),
``{registry identity: [names]}``, so every spelling of one registry finds them.

Layer 4 (``operations.images``): imports ``errors``, ``reference`` and ``core.state``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ...errors import BadReference, Denied, NotFound, RegistryError, Unauthorized
from ...reference import registry_identity, validate_registry, validate_repository
from ..core import state

NAMED, CATALOG, REMEMBERED = "named", "catalog", "remembered"

# The refusal, in the words of the headless verbs (the widgets say it their own way).
NOT_LOGGED_IN = (
    "{registry} does not list its repositories: its catalog answered HTTP 401, you are not "
    "logged in there. Log in (the Log in tab, or `docker login {registry}`) and retry; or "
    "name the repositories to read, e.g. repositories=['ns/app']")
NO_CATALOG_RIGHT = (
    "{registry} does not list its repositories to you: its catalog answered HTTP {status}, "
    "so you are logged in without the right to read it (Docker Hub and GHCR give it to "
    "nobody). Name the repositories to read, e.g. repositories=['ns/app'] (the image table's "
    "Repositories box remembers them for this registry)")


@dataclass
class Repositories:
    """The repositories a verb reads, where they came from (``source``: ``"named"``,
    ``"catalog"`` or ``"remembered"``) and the note the verb shows about that."""

    names: list[str]
    source: str
    note: str = ""
    status: int | None = None  # the catalog's refusal, when it was refused

    @property
    def notes(self) -> list[str]:
        """The note as a list, as the verbs keep notes (none for the catalog)."""
        return [self.note] if self.note else []


def parse_repositories(repositories: str | Iterable[str]) -> list[str]:
    """Repositories as typed or pasted: a list, or one string with names separated by commas,
    spaces or lines (a repository name holds none of those). Sorted, duplicates dropped;
    BadReference names the first invalid one."""
    if isinstance(repositories, str):
        repositories = re.split(r"[,\s]+", repositories)
    names = [str(repo).strip() for repo in repositories]
    return sorted({validate_repository(name) for name in names if name})


def catalog_refused(error: BaseException) -> bool:
    """True when ``error`` is a registry refusing its catalog: naming the repositories
    (``repositories=``) is then the way to read it."""
    return bool(getattr(error, "catalog_refused", False))


def not_logged_in(error: BaseException) -> bool:
    """True when the catalog's refusal was a 401: logging in is the first thing to try."""
    return catalog_refused(error) and isinstance(error, Unauthorized)


def refusal(registry: str, error: RegistryError) -> RegistryError:
    """The catalog's refusal as one error that says which it was (401 or 403) and what to
    do; ``catalog_refused(...)`` is True of it."""
    template = NOT_LOGGED_IN if isinstance(error, Unauthorized) else NO_CATALOG_RIGHT
    refused = type(error)(template.format(registry=registry, status=error.status),
                          registry=registry, status=error.status, code=error.code)
    refused.catalog_refused = True  # type: ignore[attr-defined]
    return refused


def reworded(error: RegistryError, message: str, **where: Any) -> RegistryError:
    """``error`` said in a verb's own context (``message``; ``where``: its ``registry`` and
    ``reference``), of the same kind and still ``catalog_refused`` when it was, so the
    widgets can still tell a refused catalog from any other failure."""
    again = type(error)(message, status=error.status, code=error.code,
                        **{"registry": error.registry, **where})
    again.catalog_refused = catalog_refused(error)  # type: ignore[attr-defined]
    return again


def _plural(count: int) -> str:
    return f"{count} repositor{'y' if count == 1 else 'ies'}"


def repositories_to_read(registry: str, *, named: str | Iterable[str] | None,
                         catalog: Callable[[], Iterable[str]],
                         credentials_refused: Callable[[Unauthorized], bool] = lambda e: False,
                         under: str | None = None) -> Repositories:
    """The repositories to read on ``registry`` (at or under the path ``under``, when
    given): ``named`` if given, else ``catalog()``, else the remembered ones.

    ``credentials_refused(e)``: True when a 401 refused credentials the user gave (then
    logging in again is the fix, and that error is raised as it is, not replaced by the
    remembered list, which would be refused just the same). Raises :func:`refusal`'s error
    when the catalog is refused and nothing is remembered."""
    def within(names: Iterable[str]) -> list[str]:
        return sorted({n for n in names
                       if under is None or n == under or n.startswith(under + "/")})

    if named is not None:
        names = within(parse_repositories(named))
        return Repositories(names, NAMED, f"{_plural(len(names))} you named (the catalog was "
                                          "not read)")
    try:
        return Repositories(within(catalog()), CATALOG)
    except (NotFound, Unauthorized, Denied) as e:
        if isinstance(e, Unauthorized) and credentials_refused(e):
            raise
        remembered = within(remembered_repositories(registry))
        if not remembered:
            raise refusal(registry, e) from e
        return Repositories(remembered, REMEMBERED,
                            f"{_plural(len(remembered))} you named; {registry} does not list "
                            f"its own (its catalog answered HTTP {e.status})", status=e.status)


# -- the remembered names (the state store's ``repositories`` document) --------------------

def _identity_or_as_is(name: str) -> str:
    try:
        return registry_identity(name)
    except BadReference:
        return name  # matches no registry, and is kept on the next write


def merged(value: dict[str, Any]) -> dict[str, list[str]]:
    """``{registry: names}`` keyed by identity: names saved under other spellings of one
    registry (older versions) are joined."""
    joined: dict[str, set[str]] = {}
    for key, names in value.items():
        if isinstance(names, list):
            joined.setdefault(_identity_or_as_is(str(key)), set()).update(map(str, names))
    return {key: sorted(names) for key, names in joined.items()}


def remembered_repositories(registry: str) -> list[str]:
    """The repositories remembered for ``registry`` (:func:`remember_repositories`), sorted;
    empty when none are."""
    return list(merged(state.read("repositories")).get(registry_identity(registry), []))


def remember_repositories(registry: str, repositories: str | Iterable[str]) -> list[str]:
    """Remember the repositories to read on ``registry`` where its catalog is refused: a
    list, or names separated by commas or lines, as typed or pasted. An empty value forgets
    them. Raises BadReference, changing nothing, for an invalid name. Returns the names
    kept. Nothing is sent to the registry."""
    validate_registry(registry)
    names = parse_repositories(repositories)
    key = registry_identity(registry)

    def change(saved: dict[str, Any]) -> dict[str, list[str]]:
        everything = merged(saved)
        everything[key] = names
        return everything

    state.update("repositories", change)
    return names
