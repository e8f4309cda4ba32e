"""Clipboard buttons: HTML buttons whose click copies a text in the browser.

ipywidgets has no clipboard access (the kernel may run on another machine), so the copy
happens in the page: a small inline handler uses ``navigator.clipboard`` where the page is a
secure context (https, or a loopback address) and falls back to a hidden textarea with
``document.execCommand("copy")`` elsewhere. The text travels in a ``data-text`` attribute,
HTML-escaped, so a tag name cannot break out of it.

Imports the standard library only.
"""

from __future__ import annotations

import html

# One line of JavaScript, single quotes only: it sits in a double-quoted attribute.
_COPY_JS = (
    "var b=this,t=b.dataset.text,"
    "ok=function(){b.textContent='Copied: '+b.dataset.label;b.classList.add('rw-copied')},"
    "old=function(){var a=document.createElement('textarea');a.value=t;"
    "document.body.appendChild(a);a.select();document.execCommand('copy');a.remove();ok()};"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t)"
    ".then(ok,old)}else{old()}"
)


def clipboard_button(label: str, value: str, css: str = "rw-clipboard-copy") -> str:
    """One button that copies ``value``; its label reads ``Copy <label>``."""
    return (f'<button class="jupyter-button rw-clipboard-copy {html.escape(css)}" type="button" '
            f'title="copy to the clipboard" data-label="{html.escape(label)}" '
            f'data-text="{html.escape(value)}" onclick="{_COPY_JS}">'
            f"Copy {html.escape(label)}</button>")


def clipboard_buttons(texts: dict[str, str]) -> str:
    """A row of clipboard buttons, one per ``{label: text}``; CSS class
    ``rw-clipboard-<label>`` for each (``rw-clipboard-docker``, ``-podman``...)."""
    buttons = [clipboard_button(label, value, f"rw-clipboard-{label}")
               for label, value in texts.items()]
    return '<div class="rw-clipboard" style="display:flex;gap:4px">' + "".join(buttons) + "</div>"
