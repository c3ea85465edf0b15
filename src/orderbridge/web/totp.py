"""The TOTP second factor (RFC 6238, via pyotp): enrolment, verification with replay refusal, and whether
this installation must ask for it (DPP R3/AC-23: MFA on every account once real buyer data is here)."""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import segno
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import list_accounts
from orderbridge.amazon.marketplaces import ENDPOINTS
from orderbridge.privacy.keystore import KeyStore
from orderbridge.privacy.vault import FieldRef, Vault
from orderbridge.web.users import User

ISSUER = "orderbridge"
_KEY_SCOPE = ("web", "totp")  # the key store's key for TOTP secrets (outside the database, AC-18)


def _ref(user: User) -> FieldRef:
    return FieldRef("web_users", user.username, "totp_secret")


def start_enrolment(user: User, keys: KeyStore) -> str:
    """Give the user a new (unconfirmed) secret, sealed in the row; returns it to show once."""
    secret = pyotp.random_base32()
    user.totp_secret = Vault(keys).encrypt(secret, at=_ref(user), key=keys.open_key(*_KEY_SCOPE))
    user.totp_confirmed_at = None
    user.totp_last_step = 0
    return secret


def secret_of(user: User, keys: KeyStore) -> str | None:
    if user.totp_secret is None:
        return None
    return Vault(keys).decrypt(user.totp_secret, at=_ref(user))


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (made here: no image service sees the secret)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")


def verify_code(user: User, keys: KeyStore, code: str, *, now: datetime) -> bool:
    """True for a current code (one 30 s step of drift either way) not used before; records its step."""
    secret = secret_of(user, keys)
    digits = "".join(c for c in code if c.isdigit())
    if secret is None or len(digits) != 6:
        return False
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now.timestamp() + drift * totp.interval
        step = int(at // totp.interval)
        if step > user.totp_last_step and totp.verify(digits, for_time=int(at)):
            user.totp_last_step = step
            return True
    return False


def current_code(secret: str, *, now: datetime) -> str:
    """The code an authenticator would show at `now` (tests and `users` CLI checks)."""
    return pyotp.TOTP(secret).at(now)


def real_account_connected(session: Session) -> bool:
    """True once any seller account points at Amazon itself rather than the sandbox."""
    production = set(ENDPOINTS.values())
    return any(account.endpoint in production for account in list_accounts(session))


def second_factor_required(session: Session, *, waive_on_sandbox: bool) -> bool:
    """MFA for everyone, except (if the setting allows) an installation connected only to the sandbox."""
    return not waive_on_sandbox or real_account_connected(session)
