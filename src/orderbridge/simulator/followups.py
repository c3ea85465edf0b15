"""Follow-up events of generated worlds: cancels, shipping, returns, restocks, warehouse incidents."""

from __future__ import annotations

import random

from orderbridge.simulator import fba, inbound, lifecycle
from orderbridge.simulator.marketplaces import marketplace
from orderbridge.simulator.world import Listing, Scheduled, SellerAccount, World

DAY = 86400.0


def register(world: World) -> None:
    """Handlers for the generator's own follow-up events (cancellations, shipping, returns...)."""

    def story(w: World, event: Scheduled) -> None:
        if event.kind == "gen_inbound":
            inbound.create(w, event.data["shipment"])
            return
        if event.kind == "gen_fba":
            _incident(w, event)
            return
        order = w.orders[event.key]
        action = event.data["action"]
        if action == "cancel" and order.status == "PENDING":
            lifecycle.cancel(w, order, by="BUYER", reason="Order created by mistake")
        elif action == "request" and order.status == "UNSHIPPED":
            lifecycle.request_cancellation(w, order, "No longer needed")
        elif action == "unfulfillable":
            lifecycle.mark_unfulfillable(w, order)
        elif action == "amazon_cancel" and order.status == "UNSHIPPED":
            lifecycle.cancel(w, order, by="AMAZON", reason="Payment could not be verified")
        elif (
            action == "ship"
            and order.status in ("UNSHIPPED", "PARTIALLY_SHIPPED")
            and order.fulfilled_by == "MERCHANT"
        ):
            lines = [
                {"orderItemId": i["orderItemId"], "quantity": i["fulfillment"]["quantityUnfulfilled"]}
                for i in order.doc["orderItems"]
            ]
            easy_ship = "AMAZON_EASY_SHIP" in order.doc.get("programs", [])
            package = {
                "packageReferenceId": "1",
                "carrierCode": "AMZN_UK" if easy_ship else "UPS",
                "trackingNumber": "1Z" + event.key[-7:],
                "shipDate": order.doc["lastUpdatedTime"],
                "orderItems": lines,
            }
            lifecycle.confirm_shipment(w, order, package)
        elif action in ("return", "replacement", "lost") and order.status == "SHIPPED":
            sku = order.doc["orderItems"][0]["product"]["sellerSku"]
            if action == "return":
                fba.customer_return(w, order, sku, 1, disposition=w.rng.choice(fba.RETURN_DISPOSITIONS))
            elif action == "replacement" and order.fulfilled_by == "AMAZON":
                fba.replace_order(w, order, sku, 1)
            elif action == "lost" and order.fulfilled_by == "AMAZON":
                centers = marketplace(order.marketplace_id).fulfillment_centers
                fc = lifecycle.pick_fulfillment_center(w, order.seller_id, sku, centers)
                fba.adjust(w, order.seller_id, sku, "lost", quantity=1, fc=fc)
                fba.reimburse(w, order.seller_id, sku, 1, reason="Lost_Warehouse")

    for kind in ("gen_inbound", "gen_story", "gen_fba"):
        world.handlers[kind] = story


def _incident(world: World, event: Scheduled) -> None:
    """A warehouse incident: damaged (reimbursed), found or disposed units (SPAPI.md §8.3 reason codes)."""
    seller, sku, kind = event.data["seller"], event.key, event.data["what"]
    stock = lifecycle.fba_stock(world, seller, sku)
    fc = max(stock, key=lambda name: stock[name]) if stock else ""
    if not fc or (kind != "found" and stock[fc] < 1):
        return
    fba.adjust(world, seller, sku, kind, quantity=1, fc=fc)
    if kind == "damaged":
        fba.reimburse(world, seller, sku, 1, reason="Damaged_Warehouse")


def schedule_incidents(
    world: World, *, seed: int, start: float, days: int, sellers: list[tuple[SellerAccount, list[Listing]]]
) -> None:
    """Warehouse incidents spread over the generated days, per seller."""
    # A random source of its own, so incidents never shift the order stream of a given seed.
    rng = random.Random(seed * 7919 + 1)
    for day in range(days):
        for account, listings in sellers:
            fba_skus = [item.sku for item in listings if item.fulfilled_by == "AMAZON"]
            for what in ("damaged", "found", "disposed"):
                if fba_skus and rng.random() < 0.3:
                    at = start + (day + rng.random()) * DAY
                    world.schedule(at, "gen_fba", rng.choice(fba_skus), seller=account.seller_id, what=what)
