"""A reviewed plan, read back: what ``sync(..., plan=dry_run_result)`` applies.

A dry run's ``details["images"]`` is the plan as data: each image's source and target, the
digest it saw at the source, and the one it saw at the target (``target_digest_before``).
``reviewed_plans`` checks that a plan belongs to this call (a sync dry run, of the same
source and target, with the same options) and turns its rows back into the
``RepositoryPlan``s the apply units take, so the apply copies exactly those images and
nothing it did not list (as Terraform's ``apply PLANFILE``). Nothing is read from a registry
here: the plan is refused, with one InvalidArgument naming ``plan``, before any request.

Layer 5: imports ``errors``, ``core.result`` and its sibling ``plan``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ...errors import InvalidArgument
from ..core.result import Result
from .plan import PlannedImage, RepositoryPlan, RepositoryTask, anchor_of, mirrored

ACTIONS = ("copy", "replace", "skip")
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HOW = "make one with sync(source, target, ..., dry_run=True), look at it, then pass it"


def plan_details(plan: Any) -> dict[str, Any]:
    """The details of a sync dry run given as its Result, ``Result.to_dict()`` or details;
    InvalidArgument (TypeError for another type) when it is not one."""
    if isinstance(plan, Result):
        what = {"action": plan.action, "dry_run": plan.dry_run, "details": plan.details}
    elif isinstance(plan, Mapping):
        what = dict(plan) if "details" in plan else {"action": "sync", "details": plan,
                                                     "dry_run": plan.get("dry_run")}
    else:
        raise TypeError(f"plan must be the Result of sync(..., dry_run=True) (or its details), "
                        f"not {type(plan).__name__}; nothing was done")
    details = what.get("details")
    if what.get("action") != "sync" or not isinstance(details, Mapping) or \
            not isinstance(details.get("images"), list) or "filters" not in details:
        raise InvalidArgument(f"plan= is not the result of a sync (it is a "
                              f"{what.get('action') or 'something else'!s} result); {_HOW} as "
                              "plan=; nothing was done")
    if what.get("dry_run") is not True:
        raise InvalidArgument("plan= is the result of a sync that ran, not of a dry run: a "
                              f"plan is what a dry run shows; {_HOW} as plan=; nothing was done")
    return dict(details)


def reviewed_plans(plan: Any, *, source: tuple[str, str], target: tuple[str, str],
                   filters: dict[str, Any]) -> tuple[list[str], list[RepositoryPlan]]:
    """(source repositories, their plans) of a dry run made for exactly this call.
    ``source`` and ``target`` are (registry, path); ``filters`` the call's options."""
    details = plan_details(plan)
    wanted = f"{'/'.join(source)} -> {'/'.join(target)}"
    planned = f"{details.get('source')} -> {details.get('target')}"
    if planned != wanted:
        raise InvalidArgument(f"plan= is the plan of sync {planned}, not of sync {wanted}; "
                              "nothing was done: apply a plan to the source and target it was "
                              "made for, or make a new one with dry_run=True")
    if details["filters"] != filters:
        changed = sorted(k for k in set(filters) | set(details["filters"])
                         if filters.get(k) != details["filters"].get(k))
        shown = ", ".join(f"{k}={details['filters'].get(k)!r} in the plan, {filters.get(k)!r} "
                          "here" for k in changed)
        raise InvalidArgument(f"plan= was made with other options ({shown}); nothing was done: "
                              "call sync with the plan's options, or make a new plan with "
                              "dry_run=True")
    by_repository: dict[str, list[PlannedImage]] = {}
    failed: dict[str, str] = {}
    anchor = anchor_of(source[1], list(details.get("source_repositories") or []))
    for row in details["images"]:
        repository = _repository(row, source)
        if row.get("kind") == "repository":  # a repository that failed to plan
            failed[repository] = str(row.get("error") or "it failed to plan")
            continue
        by_repository.setdefault(repository, []).append(
            _image(row, repository, source, target, anchor))
    names = list(details.get("source_repositories") or [])
    names += [n for n in list(by_repository) + list(failed) if n not in names]
    plans = []
    for name in names:
        _repository({"repository": name}, source)
        task = RepositoryTask(source[0], name, target[0], mirrored(name, anchor, target[1]),
                              tags=filters["tags"], semver=filters["semver"],
                              latest=filters["latest"], platforms=_platforms(filters),
                              accessories=filters["accessories"])
        plans.append(RepositoryPlan(task=task, images=by_repository.get(name, []),
                                    error=failed.get(name)))
    return names, plans


def _platforms(filters: dict[str, Any]) -> str | tuple[str, ...]:
    platforms = filters["platforms"]
    return "all" if platforms == "all" else tuple(platforms)


def _refused(row: Any, why: str) -> InvalidArgument:
    shown = row.get("source") if isinstance(row, Mapping) else row
    return InvalidArgument(f"plan= lists {shown!r}, which {why}; nothing was done: pass the "
                           "dry run's result unchanged")


def _repository(row: Any, source: tuple[str, str]) -> str:
    repository = row.get("repository") if isinstance(row, Mapping) else None
    if not isinstance(repository, str) or not (
            repository == source[1] or repository.startswith(source[1] + "/")):
        raise _refused(row, f"is not a repository under the source {'/'.join(source)}")
    return repository


def _image(row: Mapping[str, Any], repository: str, source: tuple[str, str],
           target: tuple[str, str], anchor: str) -> PlannedImage:
    """A row of the plan as the apply unit takes it, once it is known to be a row of a
    sync of ``source`` to ``target`` (a row edited by hand would copy something else)."""
    reference, digest, before = row.get("reference"), row.get("digest"), \
        row.get("target_digest_before")
    if row.get("action") not in ACTIONS:
        raise _refused(row, f"has the action {row.get('action')!r}, not one of {ACTIONS}")
    if not isinstance(reference, str) or not reference or \
            not isinstance(digest, str) or not _DIGEST.fullmatch(digest) or \
            not (before is None or isinstance(before, str) and _DIGEST.fullmatch(before)):
        raise _refused(row, "has no reference, or no digest as the plan saw it")
    sep = "@" if reference.startswith("sha256:") else ":"
    expected = (f"{source[0]}/{repository}{sep}{reference}",
                f"{target[0]}/{mirrored(repository, anchor, target[1])}{sep}{reference}")
    if (row.get("source"), row.get("target")) != expected:
        raise _refused(row, f"does not copy {expected[0]} to {expected[1]}")
    return PlannedImage(repository=repository, reference=reference, action=row["action"],
                        source_digest=digest, target_digest=before,
                        bytes=int(row.get("bytes") or 0), kind=str(row.get("kind") or "image"),
                        subject=row.get("subject"), source=expected[0], target=expected[1],
                        reason=str(row.get("reason") or ""))
