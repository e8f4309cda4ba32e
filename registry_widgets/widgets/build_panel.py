"""``BuildPanel``: build an image from a folder, optionally test-run it, push it.

The guide's steps "build, run, push" as three controls: a context folder, an optional
Dockerfile and an image name (``hello:1.0``, completed to ``registry/namespace/hello:1.0``,
or a full reference), then Build (with "Test run" ticked, the image runs once and its logs
show) and Push. Build output and layer progress go to a ``ProgressView``.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as w
import traitlets

from ..operations.local import build, push, run
from .feedback import Panel, ProgressView, button, show, text
from .tables import build_target


class BuildPanel(Panel):
    """Build, test-run and push.

    Buttons: ``build_button`` and ``push_button``; fields ``context_dir``, ``dockerfile``,
    ``image_name``, ``test_run`` (Checkbox), ``test_command``. ``target`` shows the full
    reference; ``built`` is the last image built, ``run_logs`` the test
    run's output. ``on_pushed(callback)`` is called with the pushed reference.
    """

    registry = traitlets.Unicode("", help="registry that image names are completed with")
    namespace = traitlets.Unicode(None, allow_none=True, help="namespace for image names")

    def __init__(self, registry: str = "", namespace: str | None = None):
        self.context_dir = text("context folder, e.g. ./app", "rw-build-context", width="20em")
        self.dockerfile = text("Dockerfile (default)", "rw-build-dockerfile", width="14em")
        self.image_name = text("name:tag, e.g. hello:1.0", "rw-build-name", width="16em")
        self.target = w.HTML("")
        self.target.add_class("rw-build-target")
        self.test_run = w.Checkbox(value=False, description="Test run", indent=False,
                                   layout=w.Layout(width="auto"))
        self.test_run.add_class("rw-build-test-run")
        self.test_command = text("command (image default)", "rw-build-test-command")
        self.build_button = button("Build", "rw-build-build", icon="cogs", style="primary")
        self.push_button = button("Push", "rw-build-push", icon="upload")
        self.progress = ProgressView()
        self.run_logs = w.Textarea(value="", disabled=True,
                                   layout=w.Layout(width="100%", height="10em", display="none"))
        self.run_logs.add_class("rw-build-run-logs")
        self.built: str | None = None
        self.last_result: Any = None
        self._pushed_callbacks: list[Callable[[str], Any]] = []
        super().__init__()
        self.children = [
            w.HBox([self.context_dir, self.dockerfile, self.image_name, self.target],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.test_run, self.test_command, self.build_button, self.push_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.message, self.progress, self.run_logs]
        self.add_class("rw-build-panel")
        self.registry, self.namespace = registry, namespace
        self.on_click(self.build_button, self.build)
        self.on_click(self.push_button, self.push)
        self.observe(lambda change: self._show_target(), names=["registry", "namespace"])
        self.image_name.observe(lambda change: self._show_target(), names="value")
        self._show_target()

    def reference(self) -> str:
        """The reference the image is built as (raises ValueError saying what is missing)."""
        return build_target(self.image_name.value, self.registry, self.namespace)

    def _show_target(self) -> None:
        try:
            self.target.value = f"→ <code>{self.reference()}</code>"
        except ValueError:
            self.target.value = ""

    def build(self) -> None:
        """Build ``context_dir`` as ``reference()``; with ``test_run``, run it once."""
        context = self.context_dir.value.strip()
        if not context:
            raise ValueError("give the folder to build (it holds the Dockerfile), e.g. ./app")
        ref = self.reference()
        show(self.run_logs, False)
        self.progress.start("build", f"building {ref}")
        try:
            result = build(context, ref, dockerfile=self.dockerfile.value.strip() or None,
                           progress=self.progress)
        except BaseException:
            self.progress.finish("build failed", failed=True)
            raise
        self.progress.finish(f"built {ref}")
        self.built, self.last_result = ref, result
        lines = [result.summary()]
        if self.test_run.value:
            command = self.test_command.value.strip() or None
            ran = run(ref, command)
            code = ran.details.get("exit_code")
            self.run_logs.value = ran.details.get("logs") or ""
            show(self.run_logs, True)
            lines.append(f"test run of {ref}: exit code {code}")
            if code:
                self.message.error("\n".join(lines) + " (the logs are below)")
                return
        self.message.status("\n".join(lines))

    def push(self) -> None:
        """Push ``reference()`` (what Build built, unless the name changed since)."""
        ref = self.reference()
        self.progress.start("push", f"pushing {ref}")
        try:
            result = push(ref, progress=self.progress)
        except BaseException:
            self.progress.finish("push failed", failed=True)
            raise
        self.progress.finish(f"pushed {ref}")
        self.last_result = result
        self.message.status(result.summary())
        for callback in list(self._pushed_callbacks):
            callback(ref)

    def on_pushed(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(reference)`` after each successful push."""
        if remove:
            self._pushed_callbacks.remove(callback)
        else:
            self._pushed_callbacks.append(callback)
