"""Small pieces for an image's detail view: its Files (browse, download one), a Diff against
another tag, and an artifact's type and files with Pull files.

Each is a function returning an ipywidgets box, so the dashboard can embed it where it
likes. Work happens on a button press, never on creation (a detail view opens at once);
errors go to the piece's own message line, in its words.

Imports ipywidgets, ``reference``, the verbs ``files``, ``read_file``, ``diff``,
``artifact_files`` and ``pull_artifact``, and the siblings ``controls``, ``messages`` and
``tables``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..errors import InvalidArgument, NotFound
from ..operations.contents.diff import diff
from ..operations.contents.files import files, read_file
from ..operations.images.artifacts import artifact_files, pull_artifact
from ..reference import Reference, parse_reference
from .controls import button, text
from .messages import MessageArea, guarded
from .tables import human_size

MAX_ROWS = 500  # rows drawn at once; the filter narrows a large image


class _Piece(w.VBox):
    """A box with a message line and ``last_error``, as ``guarded`` expects."""

    def __init__(self, ref: Reference, children: list[w.Widget], css: str):
        self.ref = ref
        self.message = MessageArea()
        self.last_error: BaseException | None = None
        super().__init__(children=[*children, self.message])
        self.add_class(css)


def _table(frame: Any) -> str:
    shown = frame.head(MAX_ROWS)
    more = f"<p>{len(frame) - MAX_ROWS} more rows: narrow the filter</p>" \
        if len(frame) > MAX_ROWS else ""
    return shown.to_html(index=False, escape=True) + more


def files_view(ref: str | Reference, *, folder: str = ".") -> w.VBox:
    """Files of ``ref``: "List files" shows the merged filesystem (narrowed to paths under
    the filter, such as /etc), "Download" saves one file into ``folder`` on the Jupyter
    server (so it shows in the file browser)."""
    ref = parse_reference(ref)
    under = text("/etc", "rw-files-filter", description="Under", value="/")
    listing = button("List files", "rw-files-list", icon="folder-open")
    path = text("/etc/os-release", "rw-files-path", description="File", width="24em")
    download = button("Download", "rw-files-download", icon="download")
    table = w.HTML()
    table.add_class("rw-files-table")
    piece = _Piece(ref, [w.HBox([under, listing]), table, w.HBox([path, download])],
                   "rw-files-view")
    piece.frame = None  # type: ignore[attr-defined]

    def show(_: Any = None) -> None:
        if piece.frame is None:  # type: ignore[attr-defined]
            piece.frame = files(ref)  # type: ignore[attr-defined]
        frame = piece.frame  # type: ignore[attr-defined]
        prefix = "/" + under.value.strip().strip("/")
        if prefix != "/":
            frame = frame[(frame["path"] == prefix) | frame["path"].str.startswith(prefix + "/")]
        table.value = _table(frame)
        piece.message.status(f"{len(frame)} paths under {prefix} in {ref}")

    def save(_: Any = None) -> None:
        wanted = path.value.strip()
        if not wanted:
            raise InvalidArgument("Files: type the path of a file in the File box (such as "
                                  "/etc/os-release), then press Download")
        try:
            data = read_file(ref, wanted)
        except (NotFound, InvalidArgument) as e:
            # the verb's message points at files(); here the List files button is the way
            why = (f"{wanted} is not in {ref}" if isinstance(e, NotFound) else
                   f"{wanted} is a directory, a device or a link loop in {ref}, not a file")
            raise type(e)(f"Files: {why}. Press List files to see what the image holds, "
                          "then type one file's path in the File box",
                          reference=str(ref)) from e
        target = Path(folder) / Path(wanted).name
        target.write_bytes(data)
        piece.message.status(f"Saved {wanted} ({human_size(len(data))}) to {target}")

    listing.on_click(guarded(piece, show))
    download.on_click(guarded(piece, save))
    return piece


def diff_view(ref: str | Reference, other_tag: str = "") -> w.VBox:
    """Diff of ``ref`` against another tag of its repository: "Compare" shows what changed
    from that tag to this image (config, layers, files)."""
    ref = parse_reference(ref)
    other = text("1.0", "rw-diff-tag", description="Against tag", value=other_tag)
    compare = button("Compare", "rw-diff-compare", icon="exchange")
    out = w.HTML()
    out.add_class("rw-diff-result")
    piece = _Piece(ref, [w.HBox([other, compare]), out], "rw-diff-view")

    def run(_: Any = None) -> None:
        tag = other.value.strip()
        if not tag:
            raise InvalidArgument("Diff: type the tag to compare with in the Against tag box, "
                                  "then press Compare")
        base = parse_reference(f"{ref.name}:{tag}")
        result = diff(base, ref)
        piece.result = result  # type: ignore[attr-defined]
        # the verb's notes name its keyword arguments; the widget has no such box
        out.value = result.to_html(notes=False)
        piece.message.status(result.summary(notes=False).splitlines()[-1])

    compare.on_click(guarded(piece, run))
    return piece


def artifact_view(ref: str | Reference, *, folder: str = "artifacts") -> w.VBox:
    """An artifact's files (name, type, size) and "Pull files" into a folder of the
    Jupyter server."""
    ref = parse_reference(ref)
    into = text("artifacts", "rw-artifact-folder", description="Into folder", value=folder)
    pull = button("Pull files", "rw-artifact-pull", icon="download")
    listing = w.HTML()
    listing.add_class("rw-artifact-files")
    piece = _Piece(ref, [listing, w.HBox([into, pull])], "rw-artifact-view")
    rows = artifact_files(ref)
    cells = "".join(f"<tr><td>{html.escape(r['title'])}</td><td>"
                    f"{'folder' if r['folder'] else 'file'}</td><td>{human_size(r['size'])}"
                    f"</td><td>{html.escape(r['media_type'])}</td></tr>" for r in rows)
    listing.value = ("<table><tr><th>name</th><th>kind</th><th>size</th><th>media type</th>"
                     f"</tr>{cells}</table>")

    def run(_: Any = None) -> None:
        where = into.value.strip()
        if not where:
            raise InvalidArgument("Pull files: type a folder in the Into folder box (such as "
                                  "artifacts), then press Pull files")
        result = pull_artifact(ref, where)
        names = ", ".join(f["title"] for f in result.details["files"])
        piece.message.status(f"Pulled {names} into {result.target}")

    pull.on_click(guarded(piece, run))
    return piece
