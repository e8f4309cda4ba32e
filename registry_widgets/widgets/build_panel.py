"""``BuildPanel``: build an image from a folder, optionally test-run it, push it.

The guide's steps "build, run, push" as controls: a context folder, the Dockerfile path,
build args, labels, a target platform and an image name (``hello:1.0``, completed to
``registry/namespace/hello:1.0``, or a full reference), then Build (with "Test run" ticked,
the image runs once and its logs show) and Push. A test run that fails blocks the push of
that image: the Push button is disabled and says why, until a build passes (or the test
run is unticked and the image built again). Build output and layer progress go to a
``ProgressView``; Build and Push run in the panel's worker thread (``busy``, ``wait()``).

Imports the ``operations`` verbs, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import ipywidgets as w
import traitlets

from ..manifest import PLATFORM_FORM, normalize_platform
from ..operations.images.local import build, push, run
from ..reference import parse_reference
from .controls import button, show, text
from .messages import result_text
from .panel import Panel, is_cancelled
from .progress_view import ProgressView
from .tables import build_target


def parse_pairs(value: str, what: str) -> dict[str, str]:
    """``"A=1, B=two"`` (commas or new lines between pairs) as ``{"A": "1", "B": "two"}``."""
    pairs: dict[str, str] = {}
    for item in re.split(r"[,\n]", value or ""):
        item = item.strip()
        if not item:
            continue
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{what} are KEY=VALUE pairs separated by commas; {item!r} has no "
                             "'=': write it e.g. VERSION=1.0")
        pairs[key.strip()] = val.strip()
    return pairs


class BuildPanel(Panel):
    """Build, test-run and push.

    Buttons: ``build_button`` and ``push_button``; fields ``context_dir``, ``dockerfile``,
    ``build_args`` and ``labels`` (``KEY=VALUE, ...``), ``platform`` (e.g. ``linux/amd64``),
    ``image_name``, ``test_run`` (Checkbox), ``test_command``. ``target`` shows the full
    reference; ``built`` is the last image built, ``run_logs`` the test run's output,
    ``blocked`` why Push is refused (``""`` when it is not). ``on_pushed(callback)`` is
    called with the pushed reference.
    """

    registry = traitlets.Unicode("", help="registry that image names are completed with")
    namespace = traitlets.Unicode(None, allow_none=True, help="namespace for image names")
    blocked = traitlets.Unicode("", help="why Push is refused now; empty when it is not")

    def __init__(self, registry: str = "", namespace: str | None = None):
        self.context_dir = text("e.g. ./app", "rw-build-context", description="context folder",
                                width="18em")
        self.dockerfile = text("default: Dockerfile", "rw-build-dockerfile",
                               description="Dockerfile", width="14em")
        self.image_name = text("e.g. hello:1.0", "rw-build-name", description="name:tag",
                               width="14em")
        self.build_args = text("KEY=VALUE, …", "rw-build-args", description="build args",
                               width="18em")
        self.labels = text("KEY=VALUE, …", "rw-build-labels", description="labels", width="18em")
        self.platform = text("engine's, e.g. linux/amd64", "rw-build-platform",
                             description="platform",
                             width="16em")
        self.target = w.HTML("")
        self.target.add_class("rw-build-target")
        self.test_run = w.Checkbox(value=True, description="Test run", indent=False,
                                   layout=w.Layout(width="auto"))
        self.test_run.add_class("rw-build-test-run")
        self.test_command = text("image default", "rw-build-test-command",
                                 description="test command")
        self.build_button = button("Build", "rw-build-build", icon="cogs", style="primary")
        self.push_button = button("Push", "rw-build-push", icon="upload")
        self.progress = ProgressView()
        self.run_logs = w.Textarea(value="", disabled=True,
                                   layout=w.Layout(width="100%", height="10em", display="none"))
        self.run_logs.add_class("rw-build-run-logs")
        self.built: str | None = None
        self.last_result: Any = None
        self._failed_tests: dict[str, str] = {}  # reference -> why its push is refused
        self._pushed_callbacks: list[Callable[[str], Any]] = []
        super().__init__()
        self.cancel_action_button.add_class("rw-build-cancel-action")
        self.children = [
            w.HBox([self.context_dir, self.dockerfile, self.image_name, self.target],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.build_args, self.labels, self.platform],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.test_run, self.test_command, self.build_button, self.push_button,
                    self.cancel_action_button], layout=w.Layout(flex_flow="row wrap")),
            self.message, self.progress, self.run_logs]
        self.add_class("rw-build-panel")
        self.registry, self.namespace = registry, namespace
        self.on_click(self.build_button, self.build, background=True)
        self.on_click(self.push_button, self.push, background=True)
        self.observe(lambda change: self._show_target(), names=["registry", "namespace"])
        self.image_name.observe(lambda change: self._show_target(), names="value")
        self._show_target()

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: images are built for it, in no namespace until
        one is chosen there."""
        self.registry, self.namespace = registry, None

    def reference(self) -> str:
        """The reference the image is built as (raises ValueError saying what is missing)."""
        return build_target(self.image_name.value, self.registry, self.namespace)

    def _show_target(self) -> None:
        try:
            self.target.value = f"→ <code>{self.reference()}</code>"
        except ValueError:
            self.target.value = ""
        self._update_block()

    def _update_block(self) -> None:
        try:
            ref = self.reference()
        except ValueError:
            ref = ""
        self.blocked = self._failed_tests.get(ref, "")
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        if btn is self.push_button:
            self.push_button.tooltip = self.blocked or "push the image to the registry"
            self.push_button.description = "Push (blocked: test run failed)" if self.blocked \
                else "Push"
            return not self.blocked
        return True

    def reset_feedback(self) -> None:
        show(self.run_logs, False)

    def build(self) -> None:
        """Build ``context_dir`` as ``reference()``; with ``test_run``, run it once: a
        non-zero exit blocks the push of this reference."""
        context = self.context_dir.value.strip()
        if not context:
            raise ValueError("give the folder to build (it holds the Dockerfile), e.g. ./app")
        ref = self.reference()
        options: dict[str, Any] = {"dockerfile": self.dockerfile.value.strip() or None,
                                   "build_args": parse_pairs(self.build_args.value, "build args")
                                   or None,
                                   "labels": parse_pairs(self.labels.value, "labels") or None}
        platform = self.platform.value.strip()
        if platform:
            try:  # normalised as containerd does: arm64 is linux/arm64/v8
                options["platform"] = normalize_platform(platform)
            except ValueError:
                raise ValueError(f"the platform box: {platform!r} is not a platform; write "
                                 f"{PLATFORM_FORM}, or leave it empty to build for the "
                                 "engine's own. Nothing was built") from None
        # A new build of this reference must pass its own test run before it may be pushed.
        self._failed_tests.pop(ref, None)
        self._update_block()
        self.progress.start("build", f"building {ref}")
        try:
            result = build(context, ref, progress=self.watching(self.progress), **options,
                           **self.cancel_kwargs(build))
        except BaseException as e:
            self.progress.finish("build failed", failed=True, cancelled=is_cancelled(e))
            raise
        self.progress.finish(f"built {ref}")
        self.built, self.last_result = ref, result
        lines = [result_text(result)]
        if self.test_run.value:
            command = self.test_command.value.strip() or None
            ran = run(ref, command)
            code = ran.details.get("exit_code")
            self.run_logs.value = ran.details.get("logs") or ""
            show(self.run_logs, True)
            lines.append(f"test run of {ref}: exit code {code}")
            if code:
                self._failed_tests[ref] = (f"the test run of {ref} failed (exit code {code}): "
                                           "fix the image and build it again")
                self._update_block()
                self.message.error("\n".join(lines) + "; it will not be pushed (the logs are "
                                   "below)")
                return
        self.message.status("\n".join(lines))

    def push(self) -> None:
        """Push ``reference()`` (what Build built, unless the name changed since); refused
        while that reference's last test run failed."""
        ref = self.reference()
        if ref in self._failed_tests:
            raise ValueError(f"not pushed: {self._failed_tests[ref]}")
        self.progress.start("push", f"pushing {ref}")
        try:
            result = push(ref, progress=self.watching(self.progress),
                          **self.cancel_kwargs(push))
        except BaseException as e:
            self.progress.finish("push failed", failed=True, cancelled=is_cancelled(e))
            raise
        self.progress.finish(f"pushed {ref}")
        self.last_result = result
        self.message.status(result_text(result))
        for callback in list(self._pushed_callbacks):
            callback(ref)
        self.report_changed(parse_reference(ref).registry)

    def on_pushed(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(reference)`` after each successful push."""
        if remove:
            self._pushed_callbacks.remove(callback)
        else:
            self._pushed_callbacks.append(callback)
