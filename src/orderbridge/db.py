"""The store: engine, sessions, the declarative Base with a naming convention, and transactions.

Every transaction says whether it writes. A writing one (`sessions.begin()`, `transaction()`: the
default, for jobs, commands and web requests that change something) takes SQLite's write lock when it
begins (BEGIN IMMEDIATE), waiting up to BUSY_TIMEOUT_MS for another writer to commit. A deferred
transaction that reads and then writes cannot wait: SQLite refuses its lock upgrade at once ("database
is locked") while another connection writes. A reading one (`reading()`: web pages, listings) begins
deferred and is refused every write by the store itself (PRAGMA query_only on SQLite, a READ ONLY
transaction on PostgreSQL); the few writes a read brings with it (an audit entry, a session's last
seen time) go through `writes_beside()` into a short writing transaction of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, BigInteger, Engine, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# How long a transaction waits for SQLite's write lock (held by one writer at a time) before it fails.
# Writers keep their transactions short (long imports commit in chunks), so a wait this long means
# something is stuck rather than busy.
BUSY_TIMEOUT_MS = 30_000
# The execution option that marks a reading transaction, and the session.info key of its writing twin.
_READS_ONLY = "orderbridge_reads_only"
_WRITES_BESIDE = "orderbridge_writes_beside"
_BESIDE_OPEN = "orderbridge_beside_open"
_KEPT = "orderbridge_kept_whatever_happens"
_OUTSIDE = "orderbridge_outside_transaction"
# For statements SQLite refuses inside a transaction (PRAGMA wal_checkpoint): `connection.execution_options(
# **OUTSIDE_TRANSACTION)` runs them with no BEGIN.
OUTSIDE_TRANSACTION: dict[str, Any] = {_OUTSIDE: True}

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY is the rowid alias).
BigId = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# What a person reads when a lock wait ran out (web page, API error, command line).
BUSY_MESSAGE = "The book is busy; try again in a moment"


def is_busy(error: BaseException) -> bool:
    """True when a database error means a lock wait ran out: SQLite's "database is locked" (or
    "busy"), PostgreSQL's lock_timeout (55P03)."""
    if not isinstance(error, OperationalError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) == "55P03":
        return True
    text = str(original).lower()
    return original.__class__.__module__.startswith("sqlite3") and (
        "database is locked" in text or "database is busy" in text or "database table is locked" in text
    )


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy emits BEGIN itself instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        # 16 MiB of page cache (SQLite's default is 2 MiB): a report import inserts into indexes keyed by
        # content hashes, whose pages are otherwise read back from the OS and spilled once per row.
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Any) -> None:
    options = connection.get_execution_options()
    if options.get(_OUTSIDE):
        return  # pysqlite's commit and rollback do nothing when no transaction is open
    if options.get(_READS_ONLY):
        connection.exec_driver_sql("PRAGMA query_only=ON")
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("PRAGMA query_only=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **options: Any) -> Engine:
    """An engine for the book: SQLite with WAL and foreign keys on, or PostgreSQL via psycopg 3. A
    transaction waits at most `busy_timeout_ms` for a lock another writer holds (SQLite's write lock,
    a PostgreSQL row or table lock), then fails with an error `is_busy` recognises."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        # Readers no longer queue behind writers, so more connections are open at once than before; a
        # request that reads may hold one while its audit entry takes a second (see writes_beside).
        if _sqlite_file(url) and "poolclass" not in options:
            options.setdefault("pool_size", 20)
            options.setdefault("max_overflow", 20)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
    else:
        options.setdefault("max_overflow", 20)
        # lock_timeout bounds a wait for a lock (a row another transaction is changing), not a query.
        connect_args = dict(options.pop("connect_args", {}))
        connect_args.setdefault("options", f"-c lock_timeout={int(busy_timeout_ms)}")
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)
    return engine


def _sqlite_file(url: str) -> bool:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return bool(database) and database != ":memory:" and not str(database).startswith("file::memory:")


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work that writes: commit on success, roll back on any error. Domain code never
    commits. On SQLite it holds the write lock from its first statement, so keep it short. What was
    handed to `kept_whatever_happens` is written once it has ended, each in a transaction of its own."""
    kept: list[Callable[[Session], None]] = []
    try:
        with sessions(info={_KEPT: kept}) as session, session.begin():
            yield session
    finally:
        for write in kept:
            with sessions.begin() as writing:
                write(writing)


def kept_whatever_happens(session: Session, write: Callable[[Session], None]) -> None:
    """Write something that must stay even if the session's transaction rolls back (an audit entry of a
    refused request): beside a reading session at once, after a `transaction()` once it has ended
    (a second writing transaction cannot begin while the first holds SQLite's lock)."""
    kept: list[Callable[[Session], None]] | None = session.info.get(_KEPT)
    if kept is not None:
        kept.append(write)
        return
    with writes_beside(session) as writing:
        write(writing)


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that only reads: it waits for no writer and no writer waits for it. The store
    refuses any write in it; what must be written on the way goes through `writes_beside(session)`."""
    with sessions(info={_WRITES_BESIDE: sessions}) as session, session.begin():
        options: dict[str, Any] = {_READS_ONLY: True}
        if session.get_bind().dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        session.connection(execution_options=options)
        yield session


def is_reading(session: Session) -> bool:
    return _WRITES_BESIDE in session.info


@contextmanager
def writes_beside(session: Session) -> Iterator[Session]:
    """Where the session's writes go: the session itself when it writes; beside a reading one, a short
    writing transaction of its own, committed when the outermost such block ends (so an audit entry of a
    read is kept even if the rest of the request fails). Nested blocks share it: a second writing
    transaction of the same thread would wait on the first for SQLite's lock."""
    beside: sessionmaker[Session] | None = session.info.get(_WRITES_BESIDE)
    if beside is None:
        yield session
        return
    open_already: Session | None = session.info.get(_BESIDE_OPEN)
    if open_already is not None:
        yield open_already
        return
    with beside.begin() as writing:
        session.info[_BESIDE_OPEN] = writing
        try:
            yield writing
        finally:
            del session.info[_BESIDE_OPEN]


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Bulk INSERT of many rows as tuples, in the session's transaction: the columns' types still
    convert each value (exact amounts, UTC times), but SQLAlchemy's per-row statement machinery is
    skipped, which bulk report imports need (a dict per row through `insert()` costs ~10x more).
    SQLite: one prepared statement run per row (executemany). PostgreSQL: COPY FROM STDIN, one
    stream per call instead of a round trip or a 30,000-parameter statement per chunk."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    # The dialect's implementation of each type, as the compiler uses: a TypeDecorator's own processor
    # alone would hand SQLite a datetime for its driver to format, not SQLAlchemy's stored format.
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    active = [(i, process) for i, process in enumerate(processors) if process is not None]
    converted: Sequence[Sequence[Any]] = rows
    if active:
        # Column by column: only the columns with a processor are touched, and rows are rebuilt as
        # tuples in one C-level step (a Python loop per row and value cost more than the INSERT).
        by_column: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, process in active:
            by_column[i] = _converted(by_column[i], process)
        converted = list(zip(*by_column, strict=True))
    if dialect.paramstyle == "qmark":
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
        connection.exec_driver_sql(sql, [r if type(r) is tuple else tuple(r) for r in converted])
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for record in converted:
            copy.write_row(record)


def _converted(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """One column's values through its type's processor; the same object in a row after row (a
    batch's `now`) is converted once."""
    out: list[Any] = []
    append = out.append
    seen: Any = None
    made: Any = None
    for value in values:
        if value is None:
            append(None)
        elif value is seen:
            append(made)
        else:
            seen, made = value, process(value)
            append(made)
    return out


def insert_dicts(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """`session.execute(insert(table), rows)` through `insert_rows`: the same rows written (the first
    row's keys name the columns, as for executemany; a column's Python default fills a key a row lacks;
    every value converted by its column's type), without SQLAlchemy's per-row parameter processing."""
    if not rows:
        return
    names = list(rows[0])
    if any(len(row) != len(names) for row in rows):  # rows of different shapes: SQLAlchemy decides
        session.execute(table.insert(), list(rows))
        return
    missing = [
        column
        for column in table.columns
        if column.name not in rows[0] and column.default is not None and not column.primary_key
    ]
    fills: list[Any] = []
    for column in missing:
        default: Any = column.default
        if not (default.is_scalar or default.is_callable):  # a SQL expression: SQLAlchemy renders it
            session.execute(table.insert(), list(rows))
            return
        names.append(column.name)
        fills.append(default)
    values = []
    for row in rows:
        made = [row[name] for name in names[: len(names) - len(fills)]]
        for default in fills:
            made.append(default.arg if default.is_scalar else default.arg(None))
        values.append(made)
    insert_rows(session, table, names, values)
