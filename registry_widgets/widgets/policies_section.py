"""``PoliciesSection``: the chosen namespace's saved retention policy and protected tags,
viewed and edited in the Clean up tab (``operations.cleanup.retention``'s saved policies,
``operations.images.protection``).

A saved policy is what ``retention`` uses when it is given no settings (and what the
scheduled notebook runs); Save policy keeps the settings typed at the top of the tab (keep
newest, older than, tags), Remove policy drops it. Protected tags are patterns (``latest``,
``release-.*``) that no removal, retention, prune or push may touch; Protect adds the
patterns typed in the box, Unprotect drops them. Both are kept in this user's policies:
nothing is sent to the registry.

Imports the ``operations`` verbs and the siblings ``cleanup_section``, ``controls``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..operations.cleanup.retention import (remove_retention_policy, retention_policies,
                                            set_retention_policy)
from ..operations.images.protection import protect, protected_patterns, unprotect
from ..reference import registry_identity
from .cleanup_section import CleanupSection
from .controls import button, text

WHERE = "Clean up, Policies"


def policy_text(policy: dict[str, Any] | None) -> str:
    """A saved retention policy in the tab's words."""
    if not policy:
        return "none saved"
    parts = []
    if policy.get("keep") is not None:
        parts.append(f"keep newest {policy['keep']}")
    if policy.get("older_than"):
        parts.append(f"older than {policy['older_than']}")
    if policy.get("tags"):
        parts.append(f"tags {policy['tags']}")
    return ", ".join(parts) or "none saved"


def _patterns(typed: str) -> list[str]:
    return [p.strip() for p in typed.replace("\n", ",").split(",") if p.strip()]


class PoliciesSection(CleanupSection):
    """``policy`` (the saved retention policy), ``save_button``, ``remove_button``;
    ``protected`` (the patterns), the ``patterns`` box, ``protect_button`` and
    ``unprotect_button``."""

    TITLE = "Saved policies and protected tags"
    ABOUT = "of the chosen namespace; kept for this user, nothing is sent to the registry"

    def __init__(self) -> None:
        self.policy = w.HTML("")
        self.policy.add_class("rw-policy-saved")
        self.save_button = button("Save policy", "rw-policy-save", icon="save")
        self.save_button.tooltip = "save keep newest, older than and tags above as the policy"
        self.remove_button = button("Remove policy", "rw-policy-remove", icon="times")
        self.protected = w.HTML("")
        self.protected.add_class("rw-protected-tags")
        self.patterns = text("latest, release-.*", "rw-protect-patterns",
                             description="tag patterns", width="24em")
        self.protect_button = button("Protect", "rw-protect", icon="lock")
        self.unprotect_button = button("Unprotect", "rw-unprotect", icon="unlock")
        self._settings: Any = None  # the Clean up panel's settings(): keep, older than, tags
        super().__init__("rw-policies-section")
        self.children = [
            self.heading,
            w.HBox([w.Label("retention policy:"), self.policy, self.save_button,
                    self.remove_button], layout=w.Layout(flex_flow="row wrap",
                                                         align_items="center")),
            w.HBox([w.Label("protected tags:"), self.protected, self.patterns,
                    self.protect_button, self.unprotect_button],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.message]
        for btn, action in ((self.save_button, self.save_policy),
                            (self.remove_button, self.remove_policy),
                            (self.protect_button, self.protect),
                            (self.unprotect_button, self.unprotect)):
            self.on_click(btn, action)
        self.forget()

    def bind(self, panel: Any) -> None:
        super().bind(panel)
        self._settings = panel.settings
        self.forget()

    @property
    def target(self) -> str:
        return f"{self.need_registry()}/{self.need_namespace()}"

    def forget(self) -> None:
        """Show the saved policy and patterns of the namespace now chosen."""
        self.update_buttons()
        if not (self.registry and self.namespace):
            self.policy.value = self.protected.value = "<i>choose a namespace</i>"
            return
        saved = retention_policies().get(f"{registry_identity(self.registry)}/{self.namespace}")
        self.policy.value = f"<b>{html.escape(policy_text(saved))}</b>"
        shown = protected_patterns(self.registry, self.namespace)
        self.protected.value = "<b>" + html.escape(", ".join(shown) or "none") + "</b>"

    def update_buttons(self) -> None:
        super().update_buttons()
        for btn in (getattr(self, "save_button", None), getattr(self, "remove_button", None),
                    getattr(self, "protect_button", None),
                    getattr(self, "unprotect_button", None)):
            if btn is not None:
                btn.disabled = not (self.registry and self.namespace)

    def save_policy(self) -> None:
        """Save the settings typed at the top of the tab as the namespace's policy."""
        target = self.target
        settings = self._settings() if self._settings else {}
        if not any(v is not None for v in settings.values()):
            raise ValueError(f"{WHERE}: fill in 'keep newest', 'older than' or 'tags' at the "
                             "top of the tab first: a policy without them would remove "
                             "nothing; nothing was saved")
        set_retention_policy(target, **settings)
        self.forget()
        self.message.status(f"retention policy of {target} saved: "
                            f"{policy_text(settings)}")

    def remove_policy(self) -> None:
        target = self.target
        result = remove_retention_policy(target)
        self.forget()
        self.message.status(f"retention policy of {target} removed" if result.changed
                            else f"{target} had no saved retention policy")

    def protect(self) -> None:
        """Protect the tag patterns typed in the box."""
        target = self.target
        patterns = _patterns(self.patterns.value)
        if not patterns:
            raise ValueError(f"{WHERE}: type one or more tag patterns in the box 'tag "
                             "patterns' (e.g. latest, release-.*), then press Protect")
        protect(target, patterns)
        self.patterns.value = ""
        self.forget()
        self.message.status(f"protected on {target}: {', '.join(patterns)}; removals, "
                            "retention, prune and pushes leave those tags alone")

    def unprotect(self) -> None:
        """Drop the patterns typed in the box (they must be among those shown)."""
        target = self.target
        patterns = _patterns(self.patterns.value)
        shown = protected_patterns(self.registry, self.namespace)
        unknown = [p for p in patterns if p not in shown]
        if not patterns or unknown:
            raise ValueError(f"{WHERE}: type in the box 'tag patterns' the protected "
                             f"patterns to drop, as shown ({', '.join(shown) or 'none'})"
                             + (f"; not protected: {', '.join(unknown)}" if unknown else "")
                             + "; nothing was changed")
        unprotect(target, patterns)
        self.patterns.value = ""
        self.forget()
        self.message.status(f"no longer protected on {target}: {', '.join(patterns)}")
