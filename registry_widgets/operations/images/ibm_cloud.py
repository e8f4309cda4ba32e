"""IBM Cloud Container Registry's own objects: namespaces, quota and trash, through IBM's
API (``vendors.ibm``, IBM's SDK), and Docker Hub's pull rate limit.

On IBM's registries a namespace is an object of the account: ``ibm_add_namespace`` creates
it (``ibmcloud cr namespace-add``), ``ibm_remove_namespace`` deletes it with every image
in it (``ibmcloud cr namespace-rm``; IBM keeps the images in its trash for 30 days). The
removal shows its plan first: the images the namespace holds, as IBM lists them, and is
applied only when confirmed by the namespace's name, and only while the namespace still
holds what the plan showed.

Layer 4: imports ``vendors`` (the vendor APIs, layer 2), ``reference``, ``errors``,
``operations.core`` (clients, result, journal, arguments) and ``progress``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import ConfirmationRequired, InvalidArgument
from ...reference import validate_namespace
from ...vendors import IBM_REGIONS, kind_of, named_kind  # noqa: F401 - IBM_REGIONS: widgets
from ...vendors import ibm
from ...vendors.ibm import API_KEY_ENV, USER as IBM_USER  # noqa: F401 - for the Log in panel
from ...vendors.dockerhub import pulls_left as _pulls_left
from ...vendors.dockerhub import watch_rate_limit
from ..core import journal
from ..core.arguments import check_bool, check_optional_str
from ..core.clients import client_for
from ..core.result import Result, Timer

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd


def is_ibm(registry: str) -> bool:
    """True when ``registry`` is IBM Cloud Container Registry (by its host, or declared
    with ``use_vendor_api``); sends nothing."""
    return named_kind(registry) == "ibm"


def _ibm_client(registry: str, verb: str) -> Any:
    client = client_for(registry)
    if not is_ibm(registry):
        raise InvalidArgument(
            f"{verb}: {client.registry} is not IBM Cloud Container Registry (icr.io and its "
            "regions, such as us.icr.io); its namespaces are declared locally instead "
            "(add_namespace)")
    return client


def ibm_namespaces(registry: str) -> list[str]:
    """The namespaces of the IBM Cloud account on ``registry`` (``ibmcloud cr
    namespace-list``), as IBM's API lists them, sorted."""
    client = _ibm_client(registry, "ibm_namespaces")
    answer = ibm.call(client, "the namespace list", "list_namespaces")
    return sorted(str(name) for name in answer or [])


def ibm_add_namespace(registry: str, namespace: str) -> Result:
    """Create ``namespace`` in the IBM Cloud account (``ibmcloud cr namespace-add``).
    ``changed`` is False when the account already had it. Journaled."""
    validate_namespace(namespace)
    client = _ibm_client(registry, "ibm_add_namespace")
    with Timer() as timer:
        _, status = ibm.call_status(client, f"creating namespace {namespace}",
                                    "create_namespace", name=namespace)
    result = Result(action="ibm_add_namespace", target=f"{client.registry}/{namespace}",
                    changed=status == 201, duration=timer.elapsed,
                    details={"registry": client.registry, "namespace": namespace,
                             "via": "IBM Cloud Container Registry API"})
    return journal.record(result)


@dataclass(frozen=True)
class IBMNamespacePlan:
    """What :func:`ibm_remove_namespace` would delete: the namespace and its images."""

    registry: str
    namespace: str
    # (repository, tag, digest, size, vulnerable) per tag, as IBM's image list says
    images: tuple[tuple[str, str, str, int, str], ...] = field(default=())

    def describe(self) -> str:
        repositories = sorted({i[0] for i in self.images})
        head = (f"Delete namespace {self.registry}/{self.namespace} in the IBM Cloud account: "
                f"{len(repositories)} repositories, {len(self.images)} tags (IBM keeps deleted "
                "images in its trash for 30 days)")
        return "\n".join([head] + [f"  {repo}:{tag} {digest[:19]}"
                                   for repo, tag, digest, _, _ in self.images[:20]]
                         + ([f"  ... and {len(self.images) - 20} more"]
                            if len(self.images) > 20 else []))

    def table(self) -> pd.DataFrame:
        """The images as a table: repository, tag, digest, size, vulnerable."""
        import pandas as pd  # here, not at the top: a headless run never loads it
        return pd.DataFrame(list(self.images), columns=["repository", "tag", "digest", "size",
                                                        "vulnerable"])


def _images_of(client: Any, namespace: str) -> tuple[tuple[str, str, str, int, str], ...]:
    images = ibm.call(client, f"the image list of {namespace}", "list_images",
                      namespace=namespace, include_manifest_lists=True, vulnerabilities=True)
    rows = set()
    for image in images or []:
        size = int(image.get("Size") or 0)
        vulnerable = str(image.get("Vulnerable") or "")
        for repo, tags in ibm.tag_digests_of([image], client.registry).items():
            rows |= {(repo, tag, digest, size, vulnerable) for tag, digest in tags.items()}
    return tuple(sorted(rows))


def plan_ibm_remove_namespace(registry: str, namespace: str) -> IBMNamespacePlan:
    """The images ``namespace`` holds, as IBM lists them: what removing it deletes.
    Changes nothing."""
    validate_namespace(namespace)
    client = _ibm_client(registry, "plan_ibm_remove_namespace")
    return IBMNamespacePlan(client.registry, namespace, _images_of(client, namespace))


def ibm_remove_namespace(registry: str, namespace: str, *, confirm: str | None = None,
                         plan: IBMNamespacePlan | None = None,
                         dry_run: bool = False) -> Result:
    """Delete ``namespace`` and every image in it from the IBM Cloud account (``ibmcloud
    cr namespace-rm``). Refuses (ConfirmationRequired, showing the plan: the images it
    holds) unless ``confirm`` equals the namespace. ``plan``: one from
    :func:`plan_ibm_remove_namespace` that the user saw; if the namespace holds other
    images now, nothing is deleted. ``dry_run=True`` returns the plan. Journaled; IBM keeps
    the images in its trash for 30 days (``ibm_trash``)."""
    check_bool("dry_run", dry_run)
    check_optional_str("confirm", confirm)
    validate_namespace(namespace)
    if plan is not None and not isinstance(plan, IBMNamespacePlan):
        raise TypeError(f"plan must come from plan_ibm_remove_namespace(), not {plan!r}; "
                        "nothing was done")
    client = _ibm_client(registry, "ibm_remove_namespace")
    target = f"{client.registry}/{namespace}"
    with Timer() as timer:
        now = _images_of(client, namespace)
        shown = plan if plan is not None else IBMNamespacePlan(client.registry, namespace, now)
        if (shown.registry, shown.namespace) != (client.registry, namespace):
            raise ValueError(f"the plan is for {shown.registry}/{shown.namespace}, not "
                             f"{target}; nothing was done")
        details = {"registry": client.registry, "namespace": namespace,
                   "images": [f"{r}:{t}@{d}" for r, t, d, _, _ in shown.images],
                   "plan": shown.describe(), "via": "IBM Cloud Container Registry API"}
        if dry_run:
            return Result(action="ibm_remove_namespace", target=target, changed=False,
                          dry_run=True, details=details, duration=timer.elapsed)
        if confirm != namespace:
            said = "no confirmation" if confirm is None else f"confirm={confirm!r}"
            raise ConfirmationRequired(f"{shown.describe()}\nNothing was changed ({said}). To "
                                       f'delete all of this, pass confirm="{namespace}"',
                                       registry=client.registry, reference=target)
        if now != shown.images:
            gone = len(set(shown.images) - set(now))
            new = len(set(now) - set(shown.images))
            raise ConfirmationRequired(
                f"changed since the plan: {new} tags appeared and {gone} went in {target}. "
                f"Nothing was changed; make the plan again and review it",
                registry=client.registry, reference=target)
        ibm.call(client, f"deleting namespace {namespace}", "delete_namespace", name=namespace)
    result = Result(action="ibm_remove_namespace", target=target, duration=timer.elapsed,
                    details=details)
    return journal.record(result)


def ibm_quota(registry: str) -> dict[str, int | None]:
    """The IBM Cloud account's storage and pull-traffic quota and usage on ``registry``, in
    bytes, as IBM's API says (``ibmcloud cr quota``): ``storage_limit``, ``storage_used``,
    ``traffic_limit``, ``traffic_used``; a limit of None is unlimited."""
    client = _ibm_client(registry, "ibm_quota")
    answer = ibm.call(client, "the quota", "get_quota") or {}

    def figure(part: str, name: str) -> int | None:
        value = (answer.get(part) or {}).get(name)
        return None if value is None or int(value) < 0 else int(value)

    return {"storage_limit": figure("limit", "storage_bytes"),
            "storage_used": figure("usage", "storage_bytes"),
            "traffic_limit": figure("limit", "traffic_bytes"),
            "traffic_used": figure("usage", "traffic_bytes")}


def ibm_trash(registry: str, namespace: str | None = None) -> pd.DataFrame:
    """What IBM keeps in its trash for the account (``ibmcloud cr trash-list``): one row per
    image with its ``tags`` and ``days_until_expiry``."""
    import pandas as pd  # here, not at the top: a headless run never loads it
    if namespace is not None:
        validate_namespace(namespace)
    client = _ibm_client(registry, "ibm_trash")
    kwargs = {"namespace": namespace} if namespace else {}
    answer = ibm.call(client, "the trash", "list_deleted_images", **kwargs) or {}
    rows = [{"image": name, "tags": list(entry.get("tags") or []),
             "days_until_expiry": entry.get("daysUntilExpiry")}
            for name, entry in sorted(answer.items()) if isinstance(entry, dict)]
    return pd.DataFrame(rows, columns=["image", "tags", "days_until_expiry"])


def pulls_left(registry: str) -> str | None:
    """Docker Hub's pull allowance as the registry last said (``"76 of 100 pulls left (per
    6 h)"``), from the ``ratelimit-*`` headers of its manifest answers; None before any,
    or where the registry sends none. Reading starts with the first call."""
    client = client_for(registry)
    if kind_of(client) == "dockerhub":
        watch_rate_limit(client)
    return _pulls_left(client.registry)
