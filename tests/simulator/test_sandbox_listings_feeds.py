"""Stock pushes: Listings Items patchListingsItem and Feeds JSON_LISTINGS_FEED (issue 4 §1, I1)."""

from __future__ import annotations

import json

from tests.simulator.sandbox_helpers import Api, assert_valid

F = "/feeds/2021-06-30"
MODEL = "feeds_2021-06-30.json"


def _fbm_sku(api: Api) -> str:
    return next(
        i.sku
        for (s, _), i in sorted(api.sandbox.world.listings.items())
        if s == api.account.seller_id and i.fulfilled_by == "MERCHANT"
    )


def _quantity_patch(quantity: object) -> list[dict]:
    return [
        {
            "op": "replace",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
        }
    ]


def test_I1_patch_listings_item_sets_fbm_quantity(na: Api) -> None:
    sku = _fbm_sku(na)
    response = na.client.patch(
        f"/listings/2021-08-01/items/{na.account.seller_id}/{sku}",
        params={"marketplaceIds": "ATVPDKIKX0DER"},
        json={"productType": "PRODUCT", "patches": _quantity_patch(7)},
        headers={"x-amz-access-token": na.token},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ACCEPTED" and body["sku"] == sku and body["submissionId"]
    assert na.sandbox.world.listing(na.account.seller_id, sku).quantity == 7
    assert response.headers["x-amzn-RateLimit-Limit"] == "5"


def test_patch_listings_item_reports_invalid_quantity(na: Api) -> None:
    sku = _fbm_sku(na)
    response = na.client.patch(
        f"/listings/2021-08-01/items/{na.account.seller_id}/{sku}",
        params={"marketplaceIds": "ATVPDKIKX0DER"},
        json={"productType": "PRODUCT", "patches": _quantity_patch(-1)},
        headers={"x-amz-access-token": na.token},
    )
    assert response.json()["status"] == "INVALID"
    assert response.json()["issues"][0]["severity"] == "ERROR"


def test_I1_json_listings_feed_updates_quantities_and_reports(na: Api) -> None:
    na.sandbox.quotas.enabled = False
    sku = _fbm_sku(na)
    document = na.post(f"{F}/documents", {"contentType": "application/json; charset=UTF-8"})
    assert document.status_code == 201
    assert_valid(MODEL, "CreateFeedDocumentResponse", document.json())
    feed_doc = {
        "header": {"sellerId": na.account.seller_id, "version": "2.0"},
        "messages": [
            {
                "messageId": 1,
                "sku": sku,
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": _quantity_patch(42),
            },
            {
                "messageId": 2,
                "sku": "NO-SUCH-SKU",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": _quantity_patch(1),
            },
        ],
    }
    assert na.client.put(document.json()["url"], content=json.dumps(feed_doc)).status_code == 200
    created = na.post(
        f"{F}/feeds",
        {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": document.json()["feedDocumentId"],
        },
    )
    assert created.status_code == 202
    assert_valid(MODEL, "CreateFeedResponse", created.json())
    feed_id = created.json()["feedId"]
    assert na.get(f"{F}/feeds/{feed_id}").json()["processingStatus"] == "IN_QUEUE"
    na.sandbox.advance(61)
    feed = na.get(f"{F}/feeds/{feed_id}").json()
    assert_valid(MODEL, "Feed", feed)
    assert feed["processingStatus"] == "DONE"
    assert na.sandbox.world.listing(na.account.seller_id, sku).quantity == 42
    result = na.get(f"{F}/documents/{feed['resultFeedDocumentId']}").json()
    assert_valid(MODEL, "FeedDocument", result)
    report = na.client.get(result["url"]).json()
    assert report["header"] == {"sellerId": na.account.seller_id, "version": "2.0", "feedId": feed_id}
    assert report["summary"] == {
        "errors": 1,
        "warnings": 0,
        "messagesProcessed": 2,
        "messagesAccepted": 1,
        "messagesInvalid": 1,
    }
    listed = na.get(f"{F}/feeds", {"feedTypes": "JSON_LISTINGS_FEED"}).json()
    assert_valid(MODEL, "GetFeedsResponse", listed)
    assert [f["feedId"] for f in listed["feeds"]] == [feed_id]


def test_create_feed_quota_is_burst_15(na: Api) -> None:
    document_id = na.post(f"{F}/documents", {"contentType": "application/json"}).json()["feedDocumentId"]
    body = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": ["ATVPDKIKX0DER"],
        "inputFeedDocumentId": document_id,
    }
    statuses = [na.post(f"{F}/feeds", body).status_code for _ in range(16)]
    assert statuses == [202] * 15 + [429]
