"""Roles and the permissions each grants; pages, API routes and API token scopes all check permissions."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"  # ship, retry quarantined orders, notes
    CONTACTS_READ = "contacts:read"
    PII_READ = "pii:read"  # buyer names, addresses, e-mails, phones: every view is audited (AC-21)
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"  # connect listings, edit products
    STOCK_READ = "stock:read"
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"  # channel settings
    PRIVACY_READ = "privacy:read"  # retention report, redaction ledger, incidents
    AUDIT_READ = "audit:read"
    COMPLIANCE_READ = "compliance:read"
    USERS_MANAGE = "users:manage"
    OPS_READ = "ops:read"  # /metrics and /readyz: give a Prometheus scraper an API token with only this


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AUDITOR = "auditor"


_READ = frozenset(
    {
        Permission.ORDERS_READ,
        Permission.CONTACTS_READ,
        Permission.CATALOG_READ,
        Permission.STOCK_READ,
        Permission.SETTINGS_READ,
    }
)

# Only the roles that fulfil orders read buyer data (DPP R4 least privilege, AUP §4.1): the auditor checks
# controls and evidence, which never needs a buyer's name.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: _READ
    | {
        Permission.ORDERS_WRITE,
        Permission.PII_READ,
        Permission.CATALOG_WRITE,
        Permission.SETTINGS_WRITE,
        Permission.PRIVACY_READ,
        Permission.OPS_READ,
    },
    Role.VIEWER: _READ,
    Role.AUDITOR: _READ | {Permission.PRIVACY_READ, Permission.AUDIT_READ, Permission.COMPLIANCE_READ},
}


def permissions_of(role: Role | str) -> frozenset[Permission]:
    """What a role may do (an unknown role may do nothing)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def parse_permissions(names: list[str]) -> frozenset[Permission]:
    """Permissions from their names, or ValueError naming the unknown one and the known ones."""
    found = set()
    for name in names:
        try:
            found.add(Permission(name.strip()))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise ValueError(f"unknown permission {name!r} (known: {known})") from None
    return frozenset(found)
