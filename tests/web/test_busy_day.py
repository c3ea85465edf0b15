"""An operator's day all at once, on one book: `orderbridge run`'s embedded scheduler syncing the bundled
sandbox, 8 people in the browser (signing in, browsing orders, reading buyer data, shipping) and a
20,000-row `orderbridge products import` run from another process meanwhile, on SQLite and on PostgreSQL
(issue 18, Build 1).

Every web answer is checked (no 5xx), every log record (nothing "locked"), the import (whole) and the
sign-ins (each succeeded or was refused with 401). The work is bounded by requests per client and rows,
never by time: the scheduler runs until the people and the import are done.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.catalog import Product
from orderbridge.book.orders.model import Shipment
from orderbridge.clock import utc_now
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs import tasks
from orderbridge.jobs.runner import add_sandbox_accounts, plan_jobs, sandbox_endpoint, start_sandbox
from orderbridge.jobs.schedule import Job, Scheduler
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.models import AuditAction, AuditEntry
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.web.api.alerts import RETRY_HOOK
from orderbridge.web.app import create_app
from orderbridge.web.passwords import add_user
from orderbridge.web.roles import Role
from orderbridge.web.serving import ServedWeb
from orderbridge.web.tls import Listening
from tests.conftest import STORES
from tests.web.conftest import PASSWORD, web_settings

CLIENTS = 8
ROUNDS = 6  # per client: the order list, an order page (buyer data revealed), a shipment, the dashboard
PRODUCT_ROWS = 20_000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORDER_LINK = re.compile(r'href="/orders/(\d+)"')


class Kept(logging.Handler):
    """Every log record of every thread, for the end of the test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # fills exc_text from exc_info
        with self.lock_:
            self.records.append(record)

    def texts(self) -> list[str]:
        with self.lock_:
            return [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in self.records]


@pytest.fixture
def kept_logs() -> Iterator[Kept]:
    handler = Kept()
    handler.setFormatter(logging.Formatter("%(message)s"))
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass
class Answers:
    """What every client was answered: (client, method, path, status)."""

    seen: list[tuple[int, str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, client: int, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.seen.append(
                (client, response.request.method, response.request.url.path, response.status_code)
            )
        return response

    def failed(self) -> list[tuple[int, str, str, int]]:
        return [answer for answer in self.seen if answer[3] >= 500]


def products_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "stock_tracked"])
        for n in range(PRODUCT_ROWS):
            writer.writerow([f"BULK-{n:05d}", f"Bulk product {n}", "yes"])
    return path


def operators(sessions: sessionmaker[Session]) -> list[str]:
    names = [f"packer{n}" for n in range(CLIENTS)]
    with sessions.begin() as session:
        for name in names:  # operators: they ship and read buyer data (pii:read)
            add_user(session, name, role=Role.OPERATOR, password=PASSWORD, clock=utc_now)
    return names


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, f"no form on {page.request.url.path} ({page.status_code})"
    return found.group(1)


def a_day_in_the_browser(url: str, index: int, username: str, answers: Answers) -> None:
    """Sign in (a wrong password first), then rounds of list, order page, ship, dashboard."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=120.0) as http:

        def get(path: str, **params: str) -> httpx.Response:
            return answers.keep(index, http.get(path, params=params))

        def post(path: str, data: dict[str, str]) -> httpx.Response:
            return answers.keep(index, http.post(path, data=data))

        token = csrf_of(get("/login"))
        wrong = {
            "username": username,
            "password": "Not-The-Password-1",
            "csrf_token": token,
            "next": "/orders",
        }
        post("/login", wrong)
        post("/login", {**wrong, "password": PASSWORD})
        for round_ in range(ROUNDS):
            listing = get("/orders", fulfilment="seller")
            ids = ORDER_LINK.findall(listing.text)
            if not ids:
                continue
            order_id = ids[(index * ROUNDS + round_) % len(ids)]
            page = get(f"/orders/{order_id}")
            if f'action="/orders/{order_id}/ship"' in page.text:
                post(
                    f"/orders/{order_id}/ship",
                    {
                        "csrf_token": csrf_of(page),
                        "reference": f"day-{index}-{round_}",
                        "tracking_number": f"1ZDAY{index:02d}{round_:04d}",
                        "carrier": "UPS",
                    },
                )
            get("/")


@dataclass
class Day:
    """The threads of the day; each one's failure is kept, never lost in its thread."""

    errors: list[BaseException] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, work: Callable[[], Any]) -> None:
        def guarded() -> None:
            try:
                work()
            except BaseException as error:  # reported by the test, not the thread
                self.errors.append(error)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()


def book_with_sandbox(store_url: str, keys_dir: Path) -> tuple[sessionmaker[Session], KeyStore, Any, Any]:
    engine = make_engine(store_url)
    sessions = session_factory(engine)
    keys = open_keystore(keys_dir / "store", key_file=keys_dir / "kek", environ={})
    enable(sessions, Privacy(keys, retention_days=30))
    return sessions, keys, engine, start_sandbox(port=0, orders_per_day=60, days=2)


def import_command(store_url: str, keys_dir: Path, data_dir: Path, file: Path) -> subprocess.Popen[str]:
    """`orderbridge products import FILE` in a process of its own, as a seller runs it beside `run`."""
    environ = {
        **os.environ,
        "ORDERBRIDGE_DATABASE_URL": store_url,
        "ORDERBRIDGE_DATA_DIR": str(data_dir),
        "ORDERBRIDGE_KEY_STORE_DIR": str(keys_dir / "store"),
        "ORDERBRIDGE_KEK_FILE": str(keys_dir / "kek"),
        "ORDERBRIDGE_CONFIG": str(data_dir / "none.toml"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    command = [
        sys.executable,
        "-c",
        "from orderbridge.cli import main; main()",
        "products",
        "import",
        str(file),
    ]
    return subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_the_whole_day_at_once_answers_no_500_and_nothing_is_locked(
    fresh_store_url: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    kept_logs: Kept,
) -> None:
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    settings = web_settings(tmp_path, fresh_store_url)
    keys_dir = tmp_path_factory.mktemp("keys")  # outside the book's directory, as the key store demands
    sessions, keys, engine, sandbox = book_with_sandbox(fresh_store_url, keys_dir)
    runtime = tasks.Runtime(sessions, keys)
    day = Day()
    jobs_done: list[str] = []
    jobs_failed: list[str] = []
    people_busy = threading.Event()

    def done(job: Job, _result: Any) -> None:
        if people_busy.is_set():
            jobs_done.append(job.name)

    def failed(job: Job, error: BaseException) -> None:
        jobs_failed.append(f"{job.name}: {type(error).__name__}: {error}")

    scheduler = Scheduler(on_done=done, on_error=failed)
    served: ServedWeb | None = None
    try:
        # What `orderbridge run` does: the sandbox's accounts and book, the jobs, a first pass, the web.
        add_sandbox_accounts(sessions, keys, sandbox)
        runtime.endpoints[sandbox.url] = sandbox_endpoint(sandbox.sandbox)
        tasks.configure(runtime)
        plan_jobs(scheduler, runtime)
        scheduler.run_pending()
        names = operators(sessions)
        app = create_app(
            settings, sessions=sessions, keys=keys, extras={RETRY_HOOK: tasks.retry_account_quarantine}
        )
        served = ServedWeb(app, Listening("127.0.0.1", 0, None, ())).start()
        products = products_file(tmp_path / "products.csv")
        answers = Answers()

        people_busy.set()
        day.start("scheduler", lambda: scheduler.run(tick=0.05))
        importing = import_command(fresh_store_url, keys_dir, tmp_path / "data", products)
        for index, name in enumerate(names):
            url = served.url
            day.start(name, lambda i=index, n=name, u=url: a_day_in_the_browser(u, i, n, answers))
        for thread in day.threads[1:]:
            thread.join(timeout=300)
            assert not thread.is_alive(), f"{thread.name} did not finish"
        imported, import_errors = importing.communicate(timeout=300)
        people_busy.clear()
    finally:
        scheduler.stop()
        for thread in day.threads[:1]:
            thread.join(timeout=60)
        if served is not None:
            served.stop()
        sandbox.stop()
        tasks.configure(None)

    assert day.errors == []
    assert answers.failed() == []
    sign_ins = [status for (_c, method, path, status) in answers.seen if (method, path) == ("POST", "/login")]
    assert sorted(sign_ins) == [303] * CLIENTS + [401] * CLIENTS  # each refused cleanly, then signed in
    texts = kept_logs.texts()
    assert [t for t in texts if "locked" in t.lower()] == []
    assert [t for t in texts if " ERROR " in t] == []
    assert [f for f in jobs_failed if "locked" in f.lower()] == []
    assert jobs_done, "the scheduler ran no job while the people and the import worked"
    assert importing.returncode == 0, import_errors
    assert "locked" not in (imported + import_errors).lower()
    assert f"{PRODUCT_ROWS} created" in imported.replace(",", ""), imported
    with sessions() as session:
        bulk = session.scalar(select(func.count()).select_from(Product).where(Product.sku.like("BULK-%")))
        shipped = session.scalar(
            select(func.count()).select_from(Shipment).where(Shipment.reference.like("day-%"))
        )
        reveals = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.action == AuditAction.PII_READ.value))
        )
    assert bulk == PRODUCT_ROWS  # the import landed whole
    assert shipped and shipped > 0
    assert {f"user:{name}" for name in names} <= reveals  # every packer read buyer data, audited
    engine.dispose()
