"""``start_registry`` for tests: the stack's, plus a token server for the ``token`` flavour.

``devstack.start_registry("token", ...)`` needs a running token server; this one
starts a ``TokenServer`` (``users``, ``grants``, ``anonymous``, ``token_lifetime``,
``token_port``) that the registry then owns: its ``stop``/``start``/``close`` take the token
server along.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from devstack import LocalRegistry
from devstack import start_registry as _start_registry
from devstack.registry import DEFAULT_USER

from .token_server import TokenServer


def start_registry(flavour: str = "plain", *, users: dict[str, str] | None = None,
                   grants: dict[str, dict[str, list[str]]] | None = None,
                   anonymous: dict[str, list[str]] | None = None, token_lifetime: int = 300,
                   token_port: int = 0, token_server: TokenServer | None = None,
                   state_dir: Path | str | None = None, **kwargs) -> LocalRegistry:
    """Like the stack's; ``token`` users default to ``alice`` (everything) and ``bob`` (pull).

    A given ``token_server`` is used as is and left to the caller to start and stop.
    """
    if flavour != "token" or token_server is not None:
        return _start_registry(flavour, users=users, token_server=token_server,  # type: ignore[arg-type]
                               state_dir=state_dir, **kwargs)
    users = users or {DEFAULT_USER: secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)}
    if grants is None:
        grants = {DEFAULT_USER: {"*": ["*"], "registry:catalog": ["*"]}, "bob": {"*": ["pull"]}}
    owns_state = state_dir is None  # as the stack does: a temporary directory, removed on close
    state = Path(state_dir or tempfile.mkdtemp(prefix="registry-widgets-token-"))
    server = TokenServer(users=users, grants=grants, anonymous=anonymous, state_dir=state / "token",
                         port=token_port, lifetime=token_lifetime).start()
    try:
        reg = _start_registry("token", users=users, token_server=server, owns_token_server=True,
                              state_dir=state, **kwargs)
    except BaseException:
        server.stop()
        raise
    reg._owns_state = owns_state
    return reg
