"""The verbs, in subpackages named for what they hold (imported only downward):

- ``core``: the machinery every verb shares: clients per registry, arguments, results,
  the cancellable worker pool, the journal, backups and restore, state files, saved
  policies, and the SQLite listing index. Imports nothing of ``operations``.
- ``images``: the image verbs: list, inspect, copy, remove (and its plan), namespaces,
  protected tags, what runs locally, accessories (signatures, attestations), and the
  engine verbs (pull, tag, push, build, run). Imports ``core``.
- ``security``: what is inside an image and what is known against it: layers, package
  databases, the SBOM, version orders, OSV feeds, findings, the configuration audit,
  exemptions and the scan. Imports ``core``.
- ``cleanup``: retention, usage, the trash and garbage collection. Imports ``core`` and
  ``images``.
- ``mirror``: sync and its plan. Imports ``core`` and ``images``.

Below all of them: ``reference``, ``manifest``, ``registry`` (the only way to the network)
and ``engine``; never ``transport`` or the widgets. Widgets and notebooks call these verbs
through the package's public names.
"""

# Every plan the change engine applies is checked by every guard, whichever verb made it
# (a prune or a restore imports nothing of ``images``): the guards that need ``images``
# (protected tags, running containers) are registered here, where every verb passes.
from .images import guards as _guards  # noqa: E402,F401  (registers them)
