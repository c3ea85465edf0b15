"""The web part of `orderbridge run`: build the app on the CLI's store and serve it, saying how to sign in."""

from __future__ import annotations

from orderbridge.cli.context import console, fail, keystore, read_only, sessions, settings
from orderbridge.cli.scale import _sources as scale_sources
from orderbridge.jobs import tasks
from orderbridge.web.api.alerts import RETRY_HOOK
from orderbridge.web.app import create_app
from orderbridge.web.errors import TlsSettingsError
from orderbridge.web.serving import ServedWeb
from orderbridge.web.tls import plan_listening
from orderbridge.web.users import any_user


def start_web() -> ServedWeb:
    """Serve the web UI and API as the settings say (AC-24), or exit with the reason it may not."""
    config = settings()
    try:
        listening = plan_listening(config)
    except TlsSettingsError as error:
        raise fail(str(error), code=2) from None
    # The jobs runtime is configured by run before the web starts; retrying uses it (api/alerts.py).
    extras = {RETRY_HOOK: tasks.retry_account_quarantine}
    # /metrics and /readyz read the sandbox accounts' clocks the way `orderbridge metrics` does.
    app = create_app(config, sessions=sessions(), keys=keystore(), extras=extras, ops_sources=scale_sources)
    try:
        served = ServedWeb(app, listening).start()
    except OSError as error:
        raise fail(f"web: cannot listen on {listening.host}:{listening.port}: {error.strerror}") from None
    console.print(
        f"web: {served.url} (API at {served.url}/api/v1, documented at /api/v1/docs)",
        highlight=False,
        soft_wrap=True,
    )
    print_sign_in_help()
    return served


def print_sign_in_help() -> None:
    with read_only() as session:
        users_exist = any_user(session)
    if users_exist:
        console.print("web: sign in with your user name, password and authenticator code", highlight=False)
        return
    console.print(
        "web: no user yet. Create the first admin (it prints a one-time password to change at first "
        "sign-in):\n    .venv/bin/orderbridge users add YOUR-NAME --role admin --full-name 'Your Name'",
        highlight=False,
        soft_wrap=True,
    )
