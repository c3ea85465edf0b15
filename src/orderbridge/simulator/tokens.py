"""Tokens API 2021-03-01: createRestrictedDataToken for the v0 order reads and restricted report documents."""

from __future__ import annotations

from starlette.responses import Response

from orderbridge.simulator.auth import TOKEN_LIFETIME
from orderbridge.simulator.errors import SandboxError
from orderbridge.simulator.routing import Ctx, Route, json_response

DATA_ELEMENTS = {"buyerInfo", "shippingAddress", "buyerTaxInformation"}


def _invalid(details: str) -> SandboxError:
    # SPAPI.md §6: 400 body "InvalidRequest" / "Request is missing or has invalid parameters".
    return SandboxError(400, "InvalidRequest", "Request is missing or has invalid parameters", details)


async def create_restricted_data_token(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    resources = body.get("restrictedResources")
    if not isinstance(resources, list) or not resources:
        raise _invalid("Resource not provided.")
    if len(resources) > 50:
        raise _invalid("At most 50 restricted resources may be requested.")
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("method") not in ("GET", "PUT", "POST", "DELETE"):
            raise _invalid("Each restricted resource needs a method of GET, PUT, POST or DELETE.")
        if not str(resource.get("path", "")).startswith("/"):
            raise _invalid("Each restricted resource needs a path.")
        unknown = set(resource.get("dataElements") or []) - DATA_ELEMENTS
        if unknown:
            raise _invalid(f"Invalid dataElements: {sorted(unknown)}.")
    token = ctx.sandbox.tokens.issue_rdt(ctx.principal.seller_id, resources, ctx.now)
    return json_response({"restrictedDataToken": token, "expiresIn": TOKEN_LIFETIME})


def routes() -> list[Route]:
    return [
        Route(
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            "createRestrictedDataToken",
            create_restricted_data_token,
        ),
    ]
