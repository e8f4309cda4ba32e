"""The dashboard's forms (issue 25): the Log in tab keeps a CA set in code and has the
Refresh its words promise; fields carry visible labels; registry fields choose from the bar;
Sync applies only what was previewed; Enter adds a registry.

Real registries (the HTTPS one with basic auth and its private CA for the login), buttons
fired with ``.click()`` and waited for; what a registry holds is read with the raw-HTTP
oracle.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.core.clients import configure
from registry_widgets.widgets import LoginPanel
from tests.support import push_image


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def settled(panel):
    """``panel`` once what it started has finished (its errors stay in the panel)."""
    try:
        panel.wait(timeout=120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the tests read last_error and the message
        pass
    return panel


def click(panel, button):
    button.click()
    return settled(panel)


def ok(panel) -> None:
    assert panel.last_error is None and panel.message.kind == "status", panel.message.text


# -- Log in ------------------------------------------------------------------------------------

def test_a_login_with_the_ca_box_empty_keeps_the_ca_configured_in_code(basic_registry):
    configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    login = LoginPanel(basic_registry.host)
    login.username.value, _ = basic_registry.auth
    login.password.value = basic_registry.password
    assert login.ca_file.value == ""

    click(login, login.login_button)

    ok(login)  # before the fix: a TLS failure, the CA was dropped
    assert f"as {basic_registry.username}" in login.message.text
    # and forgetting the login keeps the CA too: the registry still answers over TLS
    click(login, login.logout_button)
    ok(login)
    assert clients.configured(basic_registry.host)[1] == {
        "ca_bundle": str(basic_registry.ca_file)}


def test_refresh_in_the_log_in_tab_reads_a_docker_login_made_meanwhile(basic_registry,
                                                                      unique_repo):
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed=unique_repo)
    configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    login = LoginPanel(basic_registry.host)
    assert "press Refresh" in login.heading.value and login.refresh_button in \
        login.children[2].children
    click(login, login.refresh_button)
    assert login.message.kind == "error"  # nobody logged in yet: the registry says so

    # what `docker login HOST` leaves behind (DOCKER_CONFIG is this test's own: conftest)
    user, password = basic_registry.auth
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (Path(os.environ["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    told = []
    login.on_login(lambda registry, who: told.append(registry))
    click(login, login.refresh_button)

    ok(login)
    assert told == [basic_registry.host]  # the dashboard lists the registry again
