"""Errors the sandbox raises; the HTTP layer turns each into Amazon's error envelope."""

from __future__ import annotations


class SandboxError(Exception):
    """An error with Amazon's `code`, `message`, optional `details` and HTTP status (SPAPI.md §3.1)."""

    def __init__(self, status: int, code: str, message: str, details: str = "", error_type: str = "") -> None:
        super().__init__(f"{status} {code}: {message} {details}".strip())
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.error_type = error_type

    def body(self) -> dict[str, list[dict[str, str]]]:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"errors": [error]}


def invalid_input(
    details: str, message: str = "Request is missing or has invalid parameters"
) -> SandboxError:
    """Amazon's 400 InvalidInput."""
    return SandboxError(400, "InvalidInput", message, details, "ValidationException")


def not_found(what: str) -> SandboxError:
    """Amazon's 404 NotFound."""
    return SandboxError(404, "NotFound", "Resource not found", what)


def forbidden(details: str, error_type: str = "") -> SandboxError:
    """Amazon's 403 Unauthorized (SPAPI.md §3.1)."""
    return SandboxError(403, "Unauthorized", "Access to requested resource is denied.", details, error_type)


def quota_exceeded() -> SandboxError:
    """Amazon's 429 (SPAPI.md §3.2): QuotaExceeded body, TooManyRequestsException, no rate-limit header."""
    message = "You exceeded your quota for the requested resource."
    return SandboxError(429, "QuotaExceeded", message, "", "TooManyRequestsException")
