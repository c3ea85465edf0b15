"""Errors of the web package: sign-in, password policy, users, tokens; web/problems.py maps them to HTTP."""

from __future__ import annotations

from orderbridge.errors import OrderbridgeError


class WebError(OrderbridgeError):
    """Base of the web package's errors."""


class UserError(WebError):
    """A user cannot be added, changed or found; the message names the user and what is wrong."""


class PasswordPolicyError(UserError):
    """A new password breaks the policy (DPP AC-23); the message says which rule."""


class SignInError(WebError):
    """A sign-in attempt failed. The message never says whether the user exists."""


class LockedOutError(SignInError):
    """Too many failed sign-ins: the user is locked out until the time given (AC-23)."""


class TokenError(WebError):
    """An API token cannot be added, used or revoked."""


class TlsSettingsError(WebError):
    """The web server's TLS settings would serve plain HTTP off loopback, or name missing files (AC-24)."""
