"""Listings Items 2021-08-01 patchListingsItem: FBM quantity via the fulfillment_availability attribute."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from orderbridge.simulator.errors import forbidden, invalid_input
from orderbridge.simulator.routing import Ctx, Route, json_response
from orderbridge.simulator.world import World

PATH = "/attributes/fulfillment_availability"


def apply_patches(
    world: World, seller_id: str, sku: str, patches: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Apply listing patches; returns issues (empty when accepted). Only quantity is modelled."""
    listing = world.listing(seller_id, sku)
    if listing is None:
        return [
            {"code": "4000001", "message": f"SKU {sku} is not a listing of this seller.", "severity": "ERROR"}
        ]
    issues: list[dict[str, Any]] = []
    for patch in patches:
        if patch.get("op") not in ("add", "replace", "merge", "delete"):
            issues.append(
                {
                    "code": "4000002",
                    "message": "op must be add, replace, merge or delete.",
                    "severity": "ERROR",
                }
            )
            continue
        if patch.get("path") != PATH:
            continue  # other attributes are accepted and ignored by the sandbox
        if patch["op"] == "delete":
            listing.quantity = 0
            continue
        for entry in patch.get("value") or []:
            quantity = entry.get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                issues.append(
                    {
                        "code": "4000003",
                        "message": "quantity must be a non-negative integer.",
                        "severity": "ERROR",
                        "attributeNames": ["fulfillment_availability"],
                    }
                )
            elif listing.fulfilled_by == "MERCHANT":
                listing.quantity = quantity
    return issues


async def patch_listings_item(ctx: Ctx) -> Response:
    if ctx.params["sellerId"] != ctx.principal.seller_id:
        raise forbidden("The sellerId does not match the access token.")
    if not ctx.qlist("marketplaceIds"):
        raise invalid_input("marketplaceIds is required.")
    body = await ctx.json_body()
    if not body.get("productType") or not isinstance(body.get("patches"), list):
        raise invalid_input("productType and patches are required.")
    sku = ctx.params["sku"]
    issues = apply_patches(ctx.sandbox.world, ctx.principal.seller_id, sku, body["patches"])
    return json_response(
        {
            "sku": sku,
            "status": "INVALID" if issues else "ACCEPTED",
            "submissionId": secrets.token_hex(16),
            "issues": issues,
        }
    )


def routes() -> list[Route]:
    return [
        Route(
            "PATCH", "/listings/2021-08-01/items/{sellerId}/{sku}", "patchListingsItem", patch_listings_item
        )
    ]
