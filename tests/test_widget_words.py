"""Every message a widget can show speaks the dashboard's words, not Python (issue 25).

Two sources, both read from the modules with ``ast`` so that a new message is checked the
day it is written:

- the widgets' own messages: every string passed to a message area (``error``, ``status``,
  ``cancelled``), to a progress view's ``finish`` and to an exception the widgets raise
  (the panels show those in red);
- the verbs' messages, which are written for code ("pass force=True", "restore(result)
  undoes it"): every string an exception raised under ``registry_widgets`` (outside the
  widgets) is built from, as the widgets show it, that is after ``messages.for_people``.

A message fails on a name right before ``(`` (a call: ``restore(``, ``tag(s)``) and on a
keyword switch (``force=True``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import registry_widgets
from registry_widgets.widgets import messages
from registry_widgets.widgets.messages import MessageArea, for_people

PACKAGE = Path(registry_widgets.__file__).parent
WIDGETS = PACKAGE / "widgets"
PYTHON = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(|=True|=False")
# Where a widget hands text to the person.
SHOWN_BY = {"error", "status", "cancelled", "finish"}


def _text(node: ast.AST) -> str | None:
    """The words of a string expression, each ``{...}`` of an f-string as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


def _strings(node: ast.AST):
    text = _text(node)
    if text is not None:
        yield text
        return
    for child in ast.iter_child_nodes(node):
        yield from _strings(child)


def _raised(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                for text in _strings(arg):
                    yield node.lineno, text


def widget_messages() -> list[tuple[str, str]]:
    """(where, text) of every message the widget modules hand to the person."""
    found = []
    for path in sorted(WIDGETS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in SHOWN_BY:
                found += [(f"{path.name}:{node.lineno}", t)
                          for arg in node.args for t in _strings(arg)]
        found += [(f"{path.name}:{line}", t) for line, t in _raised(tree)]
    return found


def verb_messages() -> list[tuple[str, str]]:
    """(where, text) of every message an exception outside the widgets is built from."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if WIDGETS in path.parents:
            continue
        tree = ast.parse(path.read_text())
        found += [(f"{path.relative_to(PACKAGE)}:{line}", t) for line, t in _raised(tree)]
    return found


def python_in(text: str) -> list[str]:
    return PYTHON.findall(text.replace("{}", "x"))


def test_the_scanner_finds_the_messages():
    # The scan is only worth its silence if it reads what the panels show.
    shown = widget_messages()
    assert len(shown) > 60
    assert any("press Preview first" in t for _, t in shown)
    verbs = verb_messages()
    assert len(verbs) > 200
    assert any("force=True" in t for _, t in verbs), "the verbs speak Python for code"


def test_no_widget_message_speaks_python():
    bad = [f"{where}: {text!r} ({', '.join(python_in(text))})"
           for where, text in widget_messages() if python_in(text)]
    assert not bad, "widget messages that speak Python:\n" + "\n".join(bad)


def test_every_verb_error_reads_in_the_dashboards_words():
    bad = [f"{where}: {for_people(text)!r}" for where, text in verb_messages()
           if python_in(for_people(text))]
    assert not bad, "verb errors a widget would show in Python:\n" + "\n".join(bad)


@pytest.mark.parametrize("verb, shown", [
    ("x of y: in use. Nothing was changed on r. Pass force=True to do it anyway",
     "The dashboard does not override this check"),
    ("Removed 2 tag(s) from r/team. restore(result) undoes it",
     "Removed 2 tags from r/team. Restore in the Trash tab undoes it"),
    ("r/a@sha256:1 would touch protected tags on r: latest. Nothing was changed. Pass "
     "force=True to do it anyway, or unprotect('r/a', ...)",
     "protected tags in the Clean up tab"),
    ("team not found on r: it has no tagged images. Check the name: namespaces('r') lists "
     "them", "Check the name: the Namespaces tab lists them"),
    ("no credentials (configure() / credentials= in code)", "(the Log in tab)"),
])
def test_the_translation_names_the_tab_or_button(verb, shown):
    assert shown in for_people(verb)


def test_the_message_area_translates_what_it_shows():
    area = MessageArea()
    area.error(ValueError("a of b: blocked. Pass force=True to do it anyway"))
    assert area.kind == "error" and "force" not in area.text and "force" not in area.value
    area.status("Removed 1 tag(s). restore(result) undoes it")
    assert area.text == "Removed 1 tags. Restore in the Trash tab undoes it"


def test_a_cancel_is_neutral_not_a_red_failure():
    area = MessageArea()
    area.cancelled(RuntimeError("stopped by Cancel: copy"))
    assert area.kind == "cancelled" and area.text == "cancelled: stopped by Cancel: copy"
    assert messages.ERROR_STYLE not in area.value and "#b00020" not in area.value


def test_a_tls_failure_points_at_the_log_in_tabs_ca_box():
    shown = for_people("TLS verification failed for r:5000: its certificate is not signed by a "
                       "CA this machine trusts. If the registry uses a private CA, pass "
                       "ca_bundle=PATH or put the CA at /etc/docker/certs.d/r:5000/ca.crt")
    assert "give the CA file in the Log in tab" in shown and "ca_bundle" not in shown
