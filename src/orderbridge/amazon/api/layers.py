"""The layers under every SP-API call: retries -> quota -> LWA token -> send, each exchange logged.

As httpx layers send -> auth -> redirects -> transport: `call()` runs `_with_retries()` (tenacity,
jittered exponential backoff on 429 / 5xx / no response; Retry-After respected), whose every attempt runs
`_with_quota()` (waits for a token of the bucket all processes share, drains it on 429, learns the
`x-amzn-RateLimit-Limit` rate), then `_with_token()` (the account's LWA access token, cached and refreshed
before expiry, refreshed once more on ExpiredTokenException; or an RDT), then `_send()`. The quota sits
inside the retries because every attempt spends a token at Amazon. Clock, sleep and transport are
injected so that tests drive all of it on the sandbox's virtual clock without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from orderbridge.amazon.accounts import Credentials
from orderbridge.amazon.api import auth
from orderbridge.amazon.api.calls import CallEvent, CallLog
from orderbridge.amazon.api.quotas import Quotas
from orderbridge.amazon.errors import AmazonError, AmazonUnavailable, BadPayload, error_for_status
from orderbridge.clock import Clock, utc_now

USER_AGENT = "orderbridge/0.1 (Language=Python)"  # SPAPI.md §2.2: a user-agent is required
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per call and the jittered exponential backoff between them (seconds)."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0


@dataclass(frozen=True)
class Request:
    """One SP-API request: the operation (quota and log name), method, path, query and JSON body."""

    operation: str
    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: Any = None


class CallLayers:
    """The call path for one seller account; `SpApiClient` adds one typed method per operation."""

    def __init__(
        self,
        creds: Credentials,
        *,
        quotas: Quotas,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        calls: CallLog | None = None,
        tokens: auth.TokenCache | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.creds = creds
        self.quotas = quotas
        self.calls = calls or CallLog()
        self.tokens = tokens or auth.TokenCache()
        self.retry = retry
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, timeout=timeout, headers={"user-agent": USER_AGENT})
        self._attempt = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the layers ---------------------------------------------------------------------------------

    def call(self, request: Request, *, token: str | None = None) -> httpx.Response:
        """One SP-API operation with everything around it; `token` sends an RDT instead of LWA's."""
        return self._with_retries(request, lambda r: self._with_quota(r, token))

    def _with_retries(self, request: Request, attempt: Callable[[Request], httpx.Response]) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._backoff,
            retry=retry_if_exception(lambda e: isinstance(e, AmazonError) and e.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        for state in retrying:
            with state:
                self._attempt = state.retry_state.attempt_number
                return attempt(request)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _backoff(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, AmazonError) and error.retry_after is not None:
            return min(error.retry_after, self.retry.cap)
        return float(wait_random_exponential(multiplier=self.retry.base, max=self.retry.cap)(state))

    def _with_quota(self, request: Request, token: str | None) -> httpx.Response:
        partner, region = self.creds.selling_partner_id, self.creds.region
        while (wait := self.quotas.acquire(partner, region, request.operation)) > 0:
            self._sleep(wait)
        response = self._with_token(request, token)
        if response.status_code == 429:
            self.quotas.drain(partner, region, request.operation)
        else:
            self.quotas.learn(
                partner, region, request.operation, response.headers.get("x-amzn-RateLimit-Limit")
            )
        _raise_for_status(request.operation, response)
        return response

    def _with_token(self, request: Request, rdt: str | None) -> httpx.Response:
        if rdt is not None:
            return self._send(request, rdt)
        token, cached = self._access_token()
        response = self._send(request, token)
        if response.status_code == 403 and (cached or _expired(response)):
            # The hour ran out sooner than we counted, or the token is no longer known (the app's
            # authorisation was renewed, a sandbox restarted): refresh once; a second 403 is real.
            self.tokens.forget(self.creds)
            response = self._send(request, self._access_token()[0])
        return response

    def _access_token(self) -> tuple[str, bool]:
        """The account's access token and whether it came from the cache."""
        token = self.tokens.get(self.creds, self._now())
        if token is not None:
            return token.value, True
        response = self._exchange(auth.token_request(self.creds))
        token = auth.read_token(response, self._now())
        self.tokens.put(self.creds, token)
        return token.value, False

    def _send(self, request: Request, token: str) -> httpx.Response:
        # SPAPI.md §2.2: x-amz-date is only needed for SigV4 (dropped) but harmless; the token is what counts.
        headers = {"x-amz-access-token": token, "x-amz-date": self._now().strftime("%Y%m%dT%H%M%SZ")}
        built = self._http.build_request(
            request.method,
            self.creds.endpoint + request.path,
            params=request.params,
            json=request.body,
            headers=headers,
            extensions={"operation": request.operation},
        )
        return self._exchange(built, request.operation)

    def _send_plain(self, request: Request) -> httpx.Response:
        content, kind = request.body if request.body is not None else (None, None)
        headers = {"content-type": kind} if kind else None
        built = self._http.build_request(
            request.method,
            request.path,
            content=content,
            headers=headers,
            extensions={"operation": request.operation},
        )
        response = self._exchange(built, request.operation)
        _raise_for_status(request.operation, response)
        return response

    def _exchange(self, built: httpx.Request, operation: str = auth.LWA) -> httpx.Response:
        """Send, time, log and count one HTTP exchange; no response becomes AmazonUnavailable."""
        started = time.perf_counter()
        try:
            response = self._http.send(built)
            response.read()
        except httpx.TransportError as error:
            self._record(operation, 0, started, "", type(error).__name__)
            raise AmazonUnavailable(operation, 0, f"no response ({type(error).__name__})") from error
        code = response.headers.get("x-amzn-ErrorType", "") if response.status_code >= 400 else ""
        self._record(
            operation, response.status_code, started, response.headers.get("x-amzn-RequestId", ""), code
        )
        return response

    def _record(self, operation: str, status: int, started: float, request_id: str, code: str) -> None:
        elapsed = (time.perf_counter() - started) * 1000.0
        self.calls.record(
            CallEvent(
                self._now(),
                self.creds.selling_partner_id,
                self.creds.region,
                operation,
                status,
                elapsed,
                self._attempt or 1,
                request_id,
                code,
            )
        )

    def _now(self) -> datetime:
        return self._clock()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise BadPayload(_operation(response), response.status_code, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise BadPayload(_operation(response), response.status_code, "the answer is not a JSON object")
        return body

    def _model(self, model: type[ModelT], response: httpx.Response) -> ModelT:
        body = self._json(response)
        try:
            return model.model_validate(body)
        except ValidationError as error:
            fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
            raise BadPayload(_operation(response), response.status_code, f"bad fields {fields}") from None


def _operation(response: httpx.Response) -> str:
    return str(response.request.extensions.get("operation", "sp-api"))


def _expired(response: httpx.Response) -> bool:
    """Amazon's 403 for an access token past its hour: ExpiredTokenException, or "expired" in its text."""
    if response.status_code != 403:
        return False
    return (
        response.headers.get("x-amzn-ErrorType") == "ExpiredTokenException"
        or "expired" in response.text.lower()
    )


def _raise_for_status(operation: str, response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    code, message = "", "Amazon refused the call"
    try:
        errors = response.json().get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = str(errors[0].get("code", ""))
            message = str(errors[0].get("message", message))[:200]
    except (ValueError, AttributeError):
        pass
    raise error_for_status(
        operation,
        response.status_code,
        message,
        code=code,
        request_id=response.headers.get("x-amzn-RequestId", ""),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (Amazon does not send it on 429, SPAPI.md §3.2; proxies may)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
