"""``LoginPanel``: log in to the chosen registry from the dashboard, in memory only.

Username, password (a password field, emptied as soon as it is read) and an optional CA
file, then ``configure(registry, credentials=..., ca_bundle=...)`` and a ``check()`` that
proves the login; an empty CA field keeps the CA (and other options) ``configure()`` set in
code. Refresh reads Docker's config again after a ``docker login`` in a terminal. Nothing
is written to disk; the password never stays in a widget trait. Without it, the package
reuses ``docker login`` (Docker's config and credential helpers).

Imports the ``operations`` verbs and the siblings ``controls`` and ``panel``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import ipywidgets as w
import traitlets

from ..operations.core.clients import configure, configured, refresh_credentials
from ..operations.images.ibm_cloud import API_KEY_ENV, IBM_USER, is_ibm
from ..operations.images.inspect import check
from .controls import button, labelled_width, text
from .panel import Panel


class LoginPanel(Panel):
    """``username``, ``password`` (Password), ``ca_file`` and ``login_button``;
    ``logout_button`` forgets the in-memory login (back to Docker's config).
    ``on_login(callback)`` is called with ``(registry, username)``."""

    registry = traitlets.Unicode("", help="the registry to log in to")

    def __init__(self, registry: str = ""):
        self.heading = w.HTML("")
        self.username = text("user or iamapikey", "rw-login-username", description="username",
                             width="14em")
        self.password = w.Password(placeholder="password or token", description="password",
                                   style={"description_width": "initial"},
                                   layout=w.Layout(width=labelled_width("14em", "password")))
        self.password.add_class("rw-login-password")
        self.ca_file = text("optional, e.g. /etc/ssl/my-ca.pem", "rw-login-ca",
                            description="CA file",
                            width="22em")
        self.login_button = button("Log in", "rw-login-button", icon="sign-in",
                                   style="primary")
        self.logout_button = button("Forget login", "rw-login-forget", icon="sign-out")
        # After `docker login` in a terminal: read Docker's config again, then every tab
        # showing this registry lists again.
        self.refresh_button = button("Refresh", "rw-login-refresh", icon="refresh")
        self.refresh_button.tooltip = "read Docker's config again (after docker login)"
        self.users: dict[str, str] = {}  # registry -> who logged in here (in memory)
        self._callbacks: list[Callable[[str, str | None], Any]] = []
        super().__init__()
        self.children = [self.heading,
                         w.HBox([self.username, self.password, self.ca_file],
                                layout=w.Layout(flex_flow="row wrap")),
                         w.HBox([self.login_button, self.logout_button, self.refresh_button]),
                         self.message]
        self.add_class("rw-login-panel")
        self.on_click(self.login_button, self.login, background=True)
        self.on_click(self.logout_button, self.forget, background=True)
        self.on_click(self.refresh_button, self.reread, background=True)
        self.observe(lambda change: self._heading(), names="registry")
        self.registry = registry
        self._heading()

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: log in there."""
        self.registry = registry

    def _heading(self) -> None:
        ibm = self._is_ibm()
        self.heading.value = (f"<b>Log in to {self.registry}</b> — kept in this kernel's "
                              "memory only; or run <code>docker login</code> in a terminal "
                              "and press Refresh" + (
                                  f". IBM Cloud: user <code>{IBM_USER}</code> and an IAM API "
                                  f"key as password (empty: <code>{API_KEY_ENV}</code> from "
                                  "the kernel's environment)" if ibm else ""))

    def _is_ibm(self) -> bool:
        try:
            return bool(self.registry) and is_ibm(self.registry)
        except Exception:  # noqa: BLE001 - an unusable name is reported by Log in itself
            return False

    def login(self) -> None:
        """Configure the registry with these credentials and check that they work."""
        registry = self.registry
        user = self.username.value.strip()
        password, self.password.value = self.password.value, ""  # never kept in a trait
        ca = os.path.expanduser(self.ca_file.value.strip()) or None
        if ca and not os.path.isfile(ca):
            raise ValueError(f"CA file {ca} not found: give the path of a PEM file on the "
                             "kernel's machine, or leave it empty")
        if self._is_ibm() and user in ("", IBM_USER):
            # IBM Cloud takes an API key as the password of user iamapikey; the environment's
            # key is read here, used in memory, and never put in a widget.
            user, password = IBM_USER, password or os.environ.get(API_KEY_ENV, "")
            if not password:
                raise ValueError(f"Log in: give an IBM Cloud API key as the password (user "
                                 f"{IBM_USER}), or set {API_KEY_ENV} in the kernel's "
                                 "environment")
        if not user or not password:
            raise ValueError("give a username and a password (or token) to log in to "
                             f"{registry}")
        # An empty CA box keeps what configure() set in code (a CA, a timeout, the scheme):
        # dropping it would make this login fail on TLS.
        where, options = configured(registry)
        if ca:
            options["ca_bundle"] = ca
        configure(where, credentials=(user, password), **options)
        del password
        try:
            check(registry)
        except Exception:
            configure(where, **options)  # back to Docker's config; keep the CA file
            raise
        self.users[registry] = user
        self.message.status(f"logged in to {registry} as {user} (in memory only)")
        for callback in list(self._callbacks):
            callback(registry, user)

    def forget(self) -> None:
        """Drop the in-memory login: Docker's config applies again."""
        where, options = configured(self.registry)
        configure(where, **options)  # the credentials go; a configured CA stays
        self.users.pop(self.registry, None)
        self.message.status(f"forgot the login to {self.registry}; Docker's config applies")
        for callback in list(self._callbacks):
            callback(self.registry, None)

    def reread(self) -> None:
        """The Refresh button: read Docker's config and helpers again (``docker login`` may
        have just run), check the registry, and have every tab showing it list again."""
        registry = self.registry
        refresh_credentials(registry)
        check(registry)
        self.message.status(f"read Docker's config again: {registry} answers"
                            + (f" (logged in here as {self.users[registry]})"
                               if registry in self.users else ""))
        for callback in list(self._callbacks):
            callback(registry, self.users.get(registry))

    def on_login(self, callback: Callable[[str, str | None], Any]) -> None:
        self._callbacks.append(callback)
