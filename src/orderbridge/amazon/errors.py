"""Errors of the Amazon adapter: each names the SP-API operation and HTTP status, never buyer data."""

from __future__ import annotations

from orderbridge.errors import OrderbridgeError


class AmazonError(OrderbridgeError):
    """An SP-API call failed. Carries the operation, HTTP status (0: no response), Amazon's error code
    and request id (support needs it), never a request or response body."""

    retryable = False

    def __init__(
        self,
        operation: str,
        status: int,
        message: str,
        *,
        code: str = "",
        request_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        where = f"{operation}: HTTP {status}" if status else f"{operation}: no response"
        detail = f" {code}" if code else ""
        request = f" (request {request_id})" if request_id else ""
        super().__init__(f"{where}{detail}: {message}{request}")


class Throttled(AmazonError):
    """HTTP 429 QuotaExceeded: the usage plan's bucket at Amazon is empty (SPAPI.md §3.2)."""

    retryable = True


class AmazonUnavailable(AmazonError):
    """HTTP 5xx, a timeout or a dropped connection: worth retrying later."""

    retryable = True


class AuthFailed(AmazonError):
    """LWA refused the credentials, or SP-API refused the access token (HTTP 400/401/403)."""


class BadRequest(AmazonError):
    """Amazon rejected the request as invalid (HTTP 400 InvalidInput and the like): a bug or bad input."""


class NotFound(AmazonError):
    """HTTP 404: the order, report, feed or shipment does not exist for this seller."""


class BadPayload(AmazonError):
    """A response does not have the shape of Amazon's model (missing or wrongly typed fields)."""


class AccountError(OrderbridgeError):
    """A seller account cannot be added, found or used; the message names the account and the bad value."""


def error_for_status(
    operation: str,
    status: int,
    message: str,
    *,
    code: str = "",
    request_id: str = "",
    retry_after: float | None = None,
) -> AmazonError:
    """The error kind an HTTP status maps to (SPAPI.md §3.1)."""
    kind: type[AmazonError]
    if status == 429:
        kind = Throttled
    elif status >= 500:
        kind = AmazonUnavailable
    elif status in (401, 403):
        kind = AuthFailed
    elif status == 404:
        kind = NotFound
    elif status in (400, 409, 413, 415, 422):
        kind = BadRequest
    else:
        kind = AmazonError
    return kind(operation, status, message, code=code, request_id=request_id, retry_after=retry_after)
