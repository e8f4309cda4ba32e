"""``retention``: keep the newest images of each repository, remove the rest, plan first.

As IBM's ``ibmcloud cr retention-run`` (and ``retention-policy-set`` for saved settings):

- ``keep=N`` keeps the N newest images of every repository by the image's created time. An
  image is a digest: several tags on one digest count once, an index counts once (its
  created time is its newest platform's). An image without a usable created time (none,
  unparsable, or the epoch/year-1 stamps of reproducible builds) is kept and reported.
- ``older_than`` ("90d", "12h", "2w") and ``tags`` (a regular expression matched against the
  whole tag, or a version range such as ">=1.0,<2") narrow what may go; they never widen it.
- A tag matching the namespace's protected patterns, or ``protect``, is never removed.
- An image used by a running local container (``in_use``) stays unless ``force=True``.
- Tag by tag: when every tag of an image goes, the image is deleted by digest (its storage is
  freed by the next garbage collection); when some stay, only the others are removed, with
  the same safe tag removal as ``remove``. A tagged platform of a tagged index loses only its
  tags (deleting it would break the index). Signature and attestation tags
  (``sha256-<hex>.sig``...) go with their image, never alone.

``dry_run=True`` (the default) reads the registry and returns the plan; it sends no DELETE,
PUT, POST or PATCH. ``dry_run=False`` hands exactly that plan to the change engine
(``core.changes``): it reads the registry again, and if any tag of an affected repository
(signature tags included) moved, appeared or went, nothing is done (ConfirmationRequired);
it checks the guards (protected tags, running containers, a repository left without images
needs ``force=True``), makes one journal backup (``restore(result)`` undoes the run until
garbage collection), deletes, verifies and journals.

Planning (:func:`compute_retention`) is a pure function of the tag maps and the per-digest
details of ``inventory``, tested without a registry. Layer 5: imports ``errors``,
``reference``, ``progress``, the core's ``changes`` and the image verbs' modules; never the
widgets.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ...errors import ConfirmationRequired, InvalidArgument, NotFound
from ...progress import ProgressCallback
from ...reference import accessory_of, parse_reference
from ..core import changes, journal, policies
from ..core.changes import Change, Plan
from ..core.arguments import check_bool
from ..core.patterns import compile_pattern
from ..core.clients import client_for
from ..images.in_use import LocalUse, local_use
from ...reference import namespace_of
from ..images.inventory import inventory
from ..images.namespaces import declared_namespaces
from ..images.protection import compile_patterns, matching, protected_patterns
from ..images.remove_plan import parallel
from ..core.result import Result, Timer, human_size

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

POLICY_KEY = "retention"
DESCRIBE_ROWS = 50  # going tags listed by describe(); details["plan"] has them all
PLAN_COLUMNS = ["repository", "tag", "digest", "created", "action", "how", "reason", "bytes",
                "in_use"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdwy])\s*")
_RANGE_START = ("<", ">", "=", "!", "~")
# Reproducible builds stamp 1970-01-01 (SOURCE_DATE_EPOCH=0) or 0001-01-01: not a date.
_NO_DATE_BEFORE = "1970-01-02"  # compared as a UTC timestamp


# -- options ---------------------------------------------------------------------------------

def parse_duration(text: Any, option: str = "older_than") -> float:
    """ "90d" -> seconds. Units: s, m, h, d, w, y (365 d). InvalidArgument otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match[1]) == 0:
        raise InvalidArgument(f"{option}: {text!r} is not a duration; write a number and a unit "
                              "(s, m, h, d, w or y), e.g. '90d', '12h' or '2w'; nothing was done")
    return int(match[1]) * _UNITS[match[2]]


@dataclass(frozen=True)
class TagFilter:
    """``tags``: a version range (``>=1.0,<2``; a leading ``v`` in tags is ignored; prereleases
    included) when it starts with a comparison, else a regular expression for the whole tag."""

    text: str
    kind: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False)
    _range: Any = field(default=None, compare=False)

    def matches(self, tag: str) -> bool:
        if self._regex is not None:
            return self._regex.fullmatch(tag) is not None
        from packaging.version import InvalidVersion, Version
        try:
            version = Version(tag[1:] if tag[:1] in "vV" else tag)
        except InvalidVersion:
            return False  # "latest" is in no version range
        return self._range.contains(version, prereleases=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.text}"


def parse_tag_filter(text: Any) -> TagFilter | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument(f"tags: {text!r} is neither a regular expression nor a version "
                              "range; e.g. 'dev-.*' or '>=1.0,<2'; nothing was done")
    text = text.strip()
    if text.startswith(_RANGE_START):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        try:
            return TagFilter(text, "version range", _range=SpecifierSet(text))
        except InvalidSpecifier:
            raise InvalidArgument(f"tags: {text!r} is not a valid version range; write "
                                  "comparisons joined by commas, e.g. '>=1.0,<2' or '==1.4.*'; "
                                  "nothing was done") from None
    # Linear-time matching (RE2): no pattern can hang a retention run.
    return TagFilter(text, "regular expression", _regex=compile_pattern(text, option="tags"))


@dataclass(frozen=True)
class Settings:
    """Validated retention options (what a saved policy holds)."""

    keep: int | None = None
    older_than: str | None = None
    tags: str | None = None
    protect: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"keep": self.keep, "older_than": self.older_than, "tags": self.tags,
                "protect": list(self.protect)}

    @property
    def empty(self) -> bool:
        return self.keep is None and self.older_than is None and self.tags is None


def check_settings(*, keep: Any = None, older_than: Any = None, tags: Any = None,
                   protect: Any = None, force: bool = False) -> Settings:
    """Every option checked, before any request; InvalidArgument (or TypeError) naming it."""
    if keep is not None:
        if isinstance(keep, bool) or not isinstance(keep, int):
            raise TypeError(f"keep must be a whole number, not {keep!r} "
                            f"({type(keep).__name__}); nothing was done")
        if keep < 0:
            raise InvalidArgument(f"keep must be 0 or more, not {keep}; nothing was done")
        if keep == 0 and not force:
            raise InvalidArgument("keep=0 would remove every image of every repository; nothing "
                                  "was done. Pass force=True if that is really what you want")
    if older_than is not None:
        parse_duration(older_than)
    parse_tag_filter(tags)
    if isinstance(protect, str):
        protect = [protect]
    compile_patterns(protect)
    return Settings(keep, older_than, tags.strip() if isinstance(tags, str) else None,
                    tuple(protect or ()))


# -- saved policies --------------------------------------------------------------------------

def set_retention_policy(target: str, *, keep: int | None = None, older_than: str | None = None,
                         tags: str | None = None, protect: Sequence[str] | None = None,
                         force: bool = False) -> Result:
    """Save retention settings for the namespace ``registry/namespace`` (like ``ibmcloud cr
    retention-policy-set``); ``retention(target)`` without options, and the notebook
    ``07_retention``, use them. Nothing is sent to the registry. Journaled."""
    check_bool("force", force)
    registry, namespace, _ = policies.split_target(target, verb="set_retention_policy",
                                                   repository_allowed=False)
    settings = check_settings(keep=keep, older_than=older_than, tags=tags, protect=protect,
                              force=force)
    if settings.empty:
        raise InvalidArgument("set_retention_policy: give keep, older_than or tags (a policy "
                              "without them would remove nothing); nothing was done",
                              reference=target)
    policies.put(registry, namespace, POLICY_KEY, settings.to_dict())
    result = Result(action="set_retention_policy", target=f"{registry}/{namespace}",
                    details={"registry": registry, "namespace": namespace,
                             "policy": settings.to_dict()})
    journal.append(result)
    return result


def remove_retention_policy(target: str) -> Result:
    registry, namespace, _ = policies.split_target(target, verb="remove_retention_policy",
                                                   repository_allowed=False)
    changed = policies.get(registry, namespace, POLICY_KEY) is not None
    policies.put(registry, namespace, POLICY_KEY, None)
    result = Result(action="remove_retention_policy", target=f"{registry}/{namespace}",
                    changed=changed)
    journal.append(result)
    return result


def retention_policies() -> dict[str, dict[str, Any]]:
    """Every saved retention policy: ``{"registry/namespace": settings}``."""
    return policies.every(POLICY_KEY)


# -- deciding (pure) -------------------------------------------------------------------------

def usable_created(value: Any) -> pd.Timestamp | None:
    import pandas as pd  # here, not at the top: a headless copy never loads it
    if not value or not isinstance(value, str):
        return None
    when = pd.to_datetime(value, utc=True, format="ISO8601", errors="coerce")
    if pd.isna(when) or when < pd.Timestamp(_NO_DATE_BEFORE, tz="UTC"):
        return None
    return when


@dataclass
class RetentionPlan:
    """What a retention run removes and keeps (pure data, built by :func:`compute_retention`).

    ``rows``: one per tag (``PLAN_COLUMNS``): ``action`` "remove" or "keep", ``how`` ("delete
    image": the digest goes with all its tags; "remove tag": that tag only), and ``reason``.
    ``operations``: what apply does, per repository, in order. ``snapshot``: the tag -> digest
    map of every repository read, which apply checks again.
    """

    registry: str
    target: str
    settings: Settings
    rows: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    snapshot: dict[str, dict[str, str]]
    bytes_freed_estimate: int
    no_created: list[str]
    in_use: list[str]
    in_use_checked: bool
    note: str = ""
    # Which repositories were read, where that was not the catalog (see images.repositories).
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return plan_frame(self.rows)

    def describe(self) -> str:
        going = [r for r in self.rows if r["action"] == "remove"]
        images = sum(1 for op in self.operations if op["kind"] == "digest")
        lines = [f"Retention on {self.target} ({_settings_text(self.settings)}): "
                 f"{len(going)} of {len(self.rows)} tags go, {images} images deleted, up to "
                 f"{human_size(self.bytes_freed_estimate)} freed once the registry's garbage "
                 "collection runs"]
        for row in going[:DESCRIBE_ROWS]:
            lines.append(f"  - {row['repository']}:{row['tag']} ({row['digest'][:19]}, "
                         f"{row['how']}): {row['reason']}")
        if len(going) > DESCRIBE_ROWS:
            lines.append(f"  ... and {len(going) - DESCRIBE_ROWS} more (details['plan'] has "
                         "every row)")
        if self.no_created:
            lines.append(f"  kept, no usable created time: {', '.join(self.no_created)}")
        if self.in_use:
            lines.append(f"  in use: {'; '.join(self.in_use)}")
        if self.note:
            lines.append(f"  note: {self.note}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _settings_text(settings: Settings) -> str:
    parts = [f"keep {settings.keep} newest" if settings.keep is not None else "no keep count"]
    if settings.older_than:
        parts.append(f"older than {settings.older_than}")
    if settings.tags:
        parts.append(f"tags {settings.tags}")
    if settings.protect:
        parts.append(f"protect {', '.join(settings.protect)}")
    return ", ".join(parts)


def compute_retention(registry: str, target: str, tag_maps: Mapping[str, Mapping[str, str]],
                      details: Mapping[str, Mapping[str, Any]], settings: Settings, *,
                      now: float, saved_protect: Mapping[str, Sequence[str]] | None = None,
                      in_use: LocalUse | None = None, force: bool = False) -> RetentionPlan:
    """The plan, from each repository's tag -> digest map and ``inventory``'s per-digest
    details (``created``, ``blobs``, ``children``). Pure: same input, same plan."""
    filt = parse_tag_filter(settings.tags)
    cutoff = now - parse_duration(settings.older_than) if settings.older_than else None
    extra = compile_patterns(list(settings.protect))
    rows: list[dict[str, Any]] = []
    operations: list[dict[str, Any]] = []
    no_created: list[str] = []
    in_use_notes: list[str] = []
    deleted: set[str] = set()
    kept: set[str] = set()
    use = in_use or LocalUse(checked=False, note="containers were not checked")
    for repo in sorted(tag_maps):
        tags = dict(tag_maps[repo])
        patterns = compile_patterns((saved_protect or {}).get(namespace_of(repo), []),
                                    option="saved protected_tags") + extra
        protected = matching(tags, patterns)
        subject_of = {t: accessory_of(t)[0] for t in tags if accessory_of(t)}
        by_digest: dict[str, list[str]] = {}
        for tag, digest in sorted(tags.items()):
            if tag not in subject_of:
                by_digest.setdefault(digest, []).append(tag)
        children = {c["digest"] for d in set(tags.values())
                    for c in (details.get(d) or {}).get("children", [])}
        dated = []
        for digest, image_tags in by_digest.items():
            when = usable_created((details.get(digest) or {}).get("created"))
            if when is None:
                no_created += [f"{repo}:{t}" for t in image_tags]
            else:
                dated.append((when, digest))
        dated.sort(key=lambda pair: (pair[0], pair[1]), reverse=True)
        rank = {digest: i for i, (_, digest) in enumerate(dated)}
        created = {digest: when for when, digest in dated}

        # Decide per tag; then per digest whether the whole image goes.
        reason: dict[str, str] = {}
        going: set[str] = set()
        for digest, image_tags in by_digest.items():
            image_reason = None
            if digest not in created:
                image_reason = "no usable created time: kept (and reported)"
            elif settings.keep is not None and rank[digest] < settings.keep:
                image_reason = f"one of the {settings.keep} newest images (#{rank[digest] + 1})"
            elif cutoff is not None and created[digest].timestamp() > cutoff:
                image_reason = f"newer than {settings.older_than}"
            else:
                users = use.of(registry, repo, [digest])
                running = [str(u) for u in users if u.running]
                if running:
                    in_use_notes.append(f"{repo}@{digest[:19]}: {', '.join(running)}")
                    if not force:
                        image_reason = (f"in use by running {', '.join(running)} (force=True "
                                        "removes it anyway)")
            for tag in image_tags:
                if image_reason is not None:
                    reason[tag] = image_reason
                elif tag in protected:
                    reason[tag] = f"protected (pattern {protected[tag]!r})"
                elif filt is not None and not filt.matches(tag):
                    reason[tag] = f"does not match the tags filter {filt.text!r}"
                else:
                    going.add(tag)
                    why = [f"older than the {settings.keep} newest"] if settings.keep is not None \
                        else []
                    if cutoff is not None:
                        why.append(f"older than {settings.older_than}")
                    if filt is not None:
                        why.append(f"matches {filt.text!r}")
                    reason[tag] = "; ".join(why) or "matches the policy"
        whole = {d for d, ts in by_digest.items() if all(t in going for t in ts)}
        for tag, subject in subject_of.items():
            if subject in whole and tag not in protected:
                going.add(tag)
                reason[tag] = f"accessory of {subject[:19]}, which goes"
            else:
                reason[tag] = (f"protected (pattern {protected[tag]!r})" if tag in protected
                               else "accessory (signature, attestation...) of an image that stays")
        # A digest goes by DELETE only when every tag on it goes and no index uses it.
        for digest in sorted(set(tags.values())):
            on_digest = sorted(t for t, d in tags.items() if d == digest)
            gone = [t for t in on_digest if t in going]
            if not gone:
                kept.add(digest)
                continue
            if len(gone) == len(on_digest) and digest not in children:
                operations.append({"repository": repo, "kind": "digest", "digest": digest,
                                   "tags": gone})
                deleted.add(f"{repo}@{digest}")
            else:
                kept.add(digest)
                for tag in gone:
                    operations.append({"repository": repo, "kind": "tag", "digest": digest,
                                       "tags": [tag]})
        for tag in sorted(tags):
            digest = tags[tag]
            whole_image = f"{repo}@{digest}" in deleted
            how = ("delete image" if whole_image else "remove tag") if tag in going else ""
            when = created.get(digest)
            users = use.of(registry, repo, [digest])
            rows.append({"repository": repo, "tag": tag, "digest": digest,
                         "created": when.isoformat() if when is not None else None,
                         "action": "remove" if tag in going else "keep", "how": how,
                         "reason": reason.get(tag, ""), "bytes": 0,
                         "in_use": ", ".join(map(str, users))})
    # Bytes: the blobs of deleted images that no kept image (anywhere read) also uses.
    kept_blobs = {b for d in kept for b in (details.get(d) or {}).get("blobs", {})}
    freed: dict[str, int] = {}
    first_row: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["how"] == "delete image":
            first_row.setdefault(f"{row['repository']}@{row['digest']}", row)
    for key, row in first_row.items():
        own = {b: s for b, s in (details.get(row["digest"]) or {}).get("blobs", {}).items()
               if b not in kept_blobs and b not in freed}
        row["bytes"] = sum(own.values())
        freed.update(own)
    return RetentionPlan(registry, target, settings, rows, operations,
                         {repo: dict(tag_maps[repo]) for repo in sorted(tag_maps)},
                         sum(freed.values()), no_created, in_use_notes, use.checked, use.note)


def plan_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The plan rows as a table (what the Clean up tab shows)."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    table = pd.DataFrame(list(rows), columns=PLAN_COLUMNS)
    table["bytes"] = table["bytes"].astype("int64")
    return table


# -- the verb --------------------------------------------------------------------------------

def retention(target: str, *, keep: int | None = None, older_than: str | None = None,
              tags: str | None = None, protect: Sequence[str] | str | None = None,
              dry_run: bool = True, force: bool = False, plan: Result | Mapping[str, Any] | None = None,
              repositories: str | Iterable[str] | None = None,
              progress: ProgressCallback | None = None) -> Result:
    """Keep the ``keep`` newest images per repository of ``target`` (``registry/namespace`` or
    ``registry/namespace/repository``) and remove the others that ``older_than``, ``tags``
    and the protected tags let go. Like ``ibmcloud cr retention-run``.

    Without ``keep``, ``older_than`` and ``tags``, the namespace's saved policy is used
    (:func:`set_retention_policy`). ``dry_run=True`` (default) returns the plan and changes
    nothing. ``dry_run=False`` applies it; pass ``plan=`` the dry run's Result to apply
    exactly what was shown (refused, nothing changed, if the registry changed since).
    ``force=True`` allows ``keep=0`` and removing images that running containers use.

    ``result.details``: ``plan`` (a row per tag: what goes, how and why, what stays),
    ``operations``, ``bytes_freed_estimate``, ``no_created`` (kept: no usable date),
    ``in_use``, ``snapshot``, ``notes``, and after an apply ``backup_id``
    (``restore(result)``).

    ``repositories``: the namespace's repositories to read instead of the catalog's (Docker
    Hub and GHCR refuse it). Without them, where the catalog is refused, the repositories
    remembered for the registry are read, and ``details["notes"]`` says so.
    """
    check_bool("dry_run", dry_run)
    check_bool("force", force)
    registry, namespace, repository = policies.split_target(target, verb="retention")
    settings = check_settings(keep=keep, older_than=older_than, tags=tags, protect=protect,
                              force=force)
    if settings.empty:
        saved = policies.get(registry, namespace, POLICY_KEY)
        if not saved:
            raise InvalidArgument(f"retention: give keep, older_than or tags, or save a policy "
                                  f"for {registry}/{namespace} with set_retention_policy(); "
                                  "nothing was done", registry=registry, reference=target)
        settings = check_settings(keep=saved.get("keep"), older_than=saved.get("older_than"),
                                  tags=saved.get("tags"),
                                  protect=list(saved.get("protect") or []) + list(settings.protect),
                                  force=force)
    where = f"{registry}/{repository or namespace}"
    with Timer() as timer:
        if plan is not None and not dry_run:
            # Apply exactly the approved plan: _apply reads each affected repository again
            # and refuses if any of its tags changed since.
            current = _approved(plan, registry, where, settings)
        else:
            current = _plan(registry, namespace, repository, where, settings, force, progress,
                            repositories)
            if plan is not None:
                _check_same_plan(plan, current, where)
        result = Result(action="retention", target=where, details=_details(current))
        if dry_run:
            result.changed, result.dry_run = False, True
        elif not current.operations:
            result.changed = False
            journal.record(result)
        else:
            applied = changes.apply(change_set(current, force=force), progress=progress)
            engine = applied.details
            applied.details = {**engine, **result.details, "change_plan": engine["plan"]}
            result = applied
    result.duration = timer.elapsed
    return result


def _plan(registry: str, namespace: str, repository: str | None, where: str, settings: Settings,
          force: bool, progress: ProgressCallback | None,
          repositories: str | Iterable[str] | None = None) -> RetentionPlan:
    listing = inventory(registry, None if repository else namespace,
                        repositories=[repository] if repository else repositories,
                        progress=progress)
    tag_maps: dict[str, dict[str, str]] = {}
    for row in listing.rows:
        tag_maps.setdefault(row["repository"], {})[row["tag"]] = row["digest"]
    if not tag_maps:
        if repository is None and namespace in declared_namespaces(registry):
            pass  # declared, still empty: nothing to do
        else:
            what = f"repository {where}" if repository else f"namespace {namespace}"
            raise NotFound(f"{what} not found on {registry}: it has no tagged images, so there "
                           f"is nothing to keep or remove and nothing was changed. Check the "
                           f"name: namespaces({registry!r}) lists them", registry=registry,
                           reference=where)
    _add_accessory_tags(registry, listing, tag_maps)
    saved = {namespace: protected_patterns(registry, namespace)}
    plan = compute_retention(registry, where, tag_maps, listing.details, settings,
                             now=time.time(), saved_protect=saved, in_use=local_use(),
                             force=force)
    plan.notes = [] if repository else list(listing.notes)  # one repository: named as such
    return plan


def _add_accessory_tags(registry: str, listing: Any, tag_maps: dict[str, dict[str, str]]) -> None:
    """The listing shows signature and attestation tags (``sha256-<hex>.sig``...) beside their
    image, not as rows: read their digests too, so the plan decides on EVERY tag (they go
    with their image) and the engine's re-read finds nothing it did not see."""
    client = client_for(registry)
    names: dict[str, list[str]] = {}
    for row in listing.rows:
        for tag in (row.get("accessories") or {}).values():
            names.setdefault(row["repository"], []).append(tag)
    for orphan in listing.orphans:  # an accessory whose image is not listed: still a tag
        ref = parse_reference(orphan)
        names.setdefault(ref.repository, []).append(ref.tag or "")
    for repo, tags in sorted(names.items()):
        tags = sorted(set(tags) - {""})
        heads = parallel(lambda tag, repo=repo: client.head_manifest(repo, tag), tags)
        for tag, head in zip(tags, heads):
            if head is not None:
                tag_maps.setdefault(repo, {})[tag] = head.digest


def _details(plan: RetentionPlan) -> dict[str, Any]:
    return {"registry": plan.registry, "settings": plan.settings.to_dict(), "plan": plan.rows,
            "operations": plan.operations, "snapshot": plan.snapshot,
            "bytes_freed_estimate": plan.bytes_freed_estimate, "no_created": plan.no_created,
            "in_use": plan.in_use, "in_use_checked": plan.in_use_checked,
            "notes": list(plan.notes),
            "tags_removed": [f"{r['repository']}:{r['tag']}" for r in plan.rows
                             if r["action"] == "remove"],
            "summary": plan.describe()}


def _approved_details(approved: Result | Mapping[str, Any], where: str) -> dict[str, Any]:
    details = approved.details if isinstance(approved, Result) else \
        dict(approved.get("details") or approved)
    if "operations" not in details or "snapshot" not in details:
        raise InvalidArgument("plan= must be the Result of a retention dry run; nothing was "
                              "done", reference=where)
    planned_for = approved.target if isinstance(approved, Result) else approved.get("target")
    if planned_for and planned_for != where:
        raise InvalidArgument(f"plan= is the plan for {planned_for}, not {where}; nothing was "
                              "done", reference=where)
    return details


def _approved(approved: Result | Mapping[str, Any], registry: str, where: str,
              settings: Settings) -> RetentionPlan:
    """The approved dry run as a plan, once it is known to be for these settings."""
    details = _approved_details(approved, where)
    if details.get("settings") != settings.to_dict():
        raise InvalidArgument(f"plan= was made with other settings ({details.get('settings')}) "
                              f"than these ({settings.to_dict()}); nothing was done: make a new "
                              "plan with dry_run=True", reference=where)
    return RetentionPlan(registry, where, settings, list(details["plan"]),
                         list(details["operations"]), dict(details["snapshot"]),
                         int(details.get("bytes_freed_estimate", 0)),
                         list(details.get("no_created", [])), list(details.get("in_use", [])),
                         bool(details.get("in_use_checked")))


def _check_same_plan(approved: Result | Mapping[str, Any], current: RetentionPlan,
                     where: str) -> None:
    details = _approved_details(approved, where)
    changes = _drift(details["snapshot"], current.snapshot,
                     {op["repository"] for op in details["operations"]})
    if not changes and details["operations"] != current.operations:
        changes.append("the policy now selects different tags")
    if changes:
        raise ConfirmationRequired(
            f"the registry changed since the retention plan for {where} was made: "
            f"{'; '.join(changes[:10])}{' ...' if len(changes) > 10 else ''}. Nothing was "
            "changed: run retention again with dry_run=True and check the new plan",
            registry=current.registry, reference=where)


def _drift(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]],
           repositories: set[str]) -> list[str]:
    changes = []
    for repo in sorted(repositories):
        old, new = dict(before.get(repo) or {}), dict(after.get(repo) or {})
        for tag in sorted(set(old) | set(new)):
            if old.get(tag) != new.get(tag):
                if tag not in new:
                    changes.append(f"{repo}:{tag} is gone")
                elif tag not in old:
                    changes.append(f"{repo}:{tag} is new")
                else:
                    changes.append(f"{repo}:{tag} moved to {new[tag][:19]}")
    return changes


def change_set(plan: RetentionPlan, *, force: bool) -> Plan:
    """The run as the change engine applies it: a digest delete per image that goes whole
    (its signature tags' manifests included), a tag removal per tag that goes alone, and the
    affected repositories' every tag (signature tags too) as the snapshot it re-checks."""
    sizes: dict[tuple[str, str], int] = {}
    for row in plan.rows:
        key = (row["repository"], row["digest"])
        sizes[key] = max(sizes.get(key, 0), int(row.get("bytes") or 0))
    change_list = []
    for op in plan.operations:
        repo, digest = op["repository"], op["digest"]
        if op["kind"] == "digest":
            change_list.append(Change(repo, digest, digest, None,
                                      size=sizes.get((repo, digest), 0),
                                      reason=f"tags {', '.join(op['tags'])} go"))
        else:
            change_list.append(Change(repo, op["tags"][0], digest, None, reason="remove tag"))
    affected = {op["repository"] for op in plan.operations}
    return Plan(action="retention", registry=plan.registry, target=plan.target,
                changes=change_list, notes=[plan.describe()], force=force,
                snapshot={repo: dict(plan.snapshot.get(repo) or {}) for repo in sorted(affected)})
