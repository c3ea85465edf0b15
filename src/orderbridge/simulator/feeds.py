"""Feeds API 2021-06-30 with JSON_LISTINGS_FEED stock pushes: documents, feeds, processing reports."""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.errors import invalid_input, not_found
from orderbridge.simulator.listings import apply_patches
from orderbridge.simulator.routing import Ctx, Route, dumps, json_response, parse_int
from orderbridge.simulator.world import Scheduled, World

BASE = "/feeds/2021-06-30"
FEED_TYPES = {"JSON_LISTINGS_FEED"}
URL_LIFETIME = 300.0


@dataclass
class Feed:
    feed_id: str
    feed_type: str
    seller_id: str
    marketplace_ids: list[str]
    input_document_id: str
    created: float
    status: str = "IN_QUEUE"
    started: float | None = None
    finished: float | None = None
    result_document_id: str = ""

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": self.marketplace_ids,
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        }
        if self.started is not None:
            out["processingStartTime"] = iso(self.started)
        if self.finished is not None:
            out["processingEndTime"] = iso(self.finished)
        if self.result_document_id:
            out["resultFeedDocumentId"] = self.result_document_id
        return out


class FeedStore:
    """Feed documents (uploaded by PUT to their URL) and feeds processed on the world's clock."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, bytes]] = {}  # id -> (seller, content)
        self.feeds: dict[str, Feed] = {}
        self.rng = random.Random(0)  # feed ids; never the world's random source

    def attach(self, world: World) -> None:
        world.handlers["feed"] = self._on_step
        # Seeded by where the world is, so that a sandbox restarted on a saved world never repeats a feed id.
        self.rng = random.Random(f"feeds:{len(world.accounts)}:{world.now:.0f}:{len(world.orders)}")

    def _on_step(self, world: World, event: Scheduled) -> None:
        feed = self.feeds[event.key]
        if feed.status == "IN_QUEUE":
            feed.status, feed.started = "IN_PROGRESS", world.now
            world.schedule(world.now + 30, "feed", feed.feed_id)
        elif feed.status == "IN_PROGRESS":
            report = self._process(world, feed)
            feed.result_document_id = self.new_document(feed.seller_id, dumps(report))
            feed.status, feed.finished = "DONE", world.now

    def new_document(self, seller_id: str, content: bytes = b"") -> str:
        document_id = f"amzn1.tortuga.4.na.{secrets.token_hex(16)}"
        self.documents[document_id] = (seller_id, content)
        return document_id

    def _process(self, world: World, feed: Feed) -> dict[str, Any]:
        """Apply a JSON_LISTINGS_FEED and write its processing report (listings feed report schema v2)."""
        issues: list[dict[str, Any]] = []
        accepted = invalid = 0
        try:
            messages = json.loads(self.documents[feed.input_document_id][1] or b"{}").get("messages", [])
        except ValueError:
            messages = None
        if messages is None:
            issues.append({"severity": "ERROR", "code": "100001", "message": "The feed is not valid JSON."})
            messages = []
        for message in messages:
            found = apply_patches(
                world, feed.seller_id, str(message.get("sku", "")), message.get("patches", [])
            )
            for issue in found:
                issues.append(
                    {
                        "messageId": message.get("messageId", 1),
                        "sku": message.get("sku", ""),
                        "severity": issue["severity"],
                        "code": issue["code"],
                        "message": issue["message"],
                    }
                )
            invalid += bool(found)
            accepted += not found
        errors = sum(1 for i in issues if i["severity"] == "ERROR")
        summary = {
            "errors": errors,
            "warnings": 0,
            "messagesProcessed": len(messages),
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        }
        header = {"sellerId": feed.seller_id, "version": "2.0", "feedId": feed.feed_id}
        return {"header": header, "issues": issues, "summary": summary}


def _url(ctx: Ctx, document_id: str) -> str:
    base = ctx.document_base()
    return f"{base}/_sandbox/feed-documents/{document_id}?expires={int(ctx.now + URL_LIFETIME)}"


async def create_feed_document(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    if not body.get("contentType"):
        raise invalid_input("contentType is required.")
    document_id = ctx.sandbox.feeds.new_document(ctx.principal.seller_id)
    return json_response({"feedDocumentId": document_id, "url": _url(ctx, document_id)}, 201)


async def create_feed(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    store = ctx.sandbox.feeds
    if body.get("feedType") not in FEED_TYPES:
        raise invalid_input(f"Feed type {body.get('feedType')} is not supported by the sandbox.")
    document = store.documents.get(str(body.get("inputFeedDocumentId")))
    if document is None or document[0] != ctx.principal.seller_id or not body.get("marketplaceIds"):
        raise invalid_input("inputFeedDocumentId and marketplaceIds are required and must be valid.")
    feed = Feed(
        str(store.rng.randint(10**10, 10**11 - 1)),
        body["feedType"],
        ctx.principal.seller_id,
        list(body["marketplaceIds"]),
        body["inputFeedDocumentId"],
        ctx.now,
    )
    store.feeds[feed.feed_id] = feed
    ctx.sandbox.world.schedule(ctx.now + 30, "feed", feed.feed_id)
    return json_response({"feedId": feed.feed_id}, 202)


async def get_feed(ctx: Ctx) -> Response:
    feed = ctx.sandbox.feeds.feeds.get(ctx.params["feedId"])
    if feed is None or feed.seller_id != ctx.principal.seller_id:
        raise not_found(f"Feed {ctx.params['feedId']} was not found.")
    return json_response(feed.body())


async def get_feeds(ctx: Ctx) -> Response:
    types = ctx.qlist("feedTypes")
    if not types and not ctx.q("nextToken"):
        raise invalid_input("feedTypes or nextToken is required.")
    size = parse_int(ctx.q("pageSize"), "pageSize", 1, 100, 10)
    since = parse_iso(ctx.q("createdSince") or iso(ctx.now - 90 * 86400))
    feeds = sorted(
        (
            f
            for f in ctx.sandbox.feeds.feeds.values()
            if f.seller_id == ctx.principal.seller_id
            and (not types or f.feed_type in types)
            and f.created >= since
        ),
        key=lambda f: -f.created,
    )
    return json_response({"feeds": [f.body() for f in feeds[:size]]})


async def get_feed_document(ctx: Ctx) -> Response:
    document = ctx.sandbox.feeds.documents.get(ctx.params["feedDocumentId"])
    if document is None or document[0] != ctx.principal.seller_id:
        raise not_found(f"Feed document {ctx.params['feedDocumentId']} was not found.")
    return json_response(
        {"feedDocumentId": ctx.params["feedDocumentId"], "url": _url(ctx, ctx.params["feedDocumentId"])}
    )


async def document_url(ctx: Ctx) -> Response:
    """The pre-signed feed document URL: PUT uploads the feed, GET reads a result (S3's part)."""
    store = ctx.sandbox.feeds
    document = store.documents.get(ctx.params["documentId"])
    expires = ctx.q("expires") or "0"
    if document is None:
        return Response(b"NoSuchKey", status_code=404, media_type="application/xml")
    if not expires.isdigit() or int(expires) < ctx.now:
        return Response(
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            status_code=403,
            media_type="application/xml",
        )
    if ctx.request.method == "PUT":
        store.documents[ctx.params["documentId"]] = (document[0], await ctx.request.body())
        return Response(status_code=200)
    return Response(document[1], media_type="application/json")


def routes() -> list[Route]:
    return [
        Route("POST", BASE + "/documents", "createFeedDocument", create_feed_document),
        Route("GET", BASE + "/documents/{feedDocumentId}", "getFeedDocument", get_feed_document),
        Route("POST", BASE + "/feeds", "createFeed", create_feed),
        Route("GET", BASE + "/feeds", "getFeeds", get_feeds),
        Route("GET", BASE + "/feeds/{feedId}", "getFeed", get_feed),
        Route("PUT", "/_sandbox/feed-documents/{documentId}", "admin", document_url, admin=True),
        Route("GET", "/_sandbox/feed-documents/{documentId}", "admin", document_url, admin=True),
    ]
