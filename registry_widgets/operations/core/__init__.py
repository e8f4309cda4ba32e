"""The machinery the verbs share: one client per registry (``clients``), argument checks
(``arguments``), ``Result``, the cancellable worker pool (``workers``), the journal, backups
and restore (``backup``), small state files (``state``), saved policies (``policies``) and
the SQLite listing index (``index``).

Imports ``errors``, ``progress``, ``paths``, ``reference``, ``manifest`` and ``registry``;
nothing else of ``operations``.
"""
