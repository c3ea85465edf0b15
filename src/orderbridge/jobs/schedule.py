"""The embedded scheduler: tasks due at intervals, run one at a time in `orderbridge run`.

A deliberately small loop instead of APScheduler: intervals are measured on an injected clock (a sandbox
account lives on the sandbox's virtual clock, so a 180 s interval passes in 3 s at speed 60), tests drive
it with `run_pending()` and no sleeping, and there is no dependency to declare. Jobs run in order of
due time; a job that fails is logged and tried again at its next interval, so one bad account never
stops the others.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderbridge.amazon.api.quotas import PLANS
from orderbridge.clock import Clock, utc_now

log = logging.getLogger(__name__)
Task = Callable[..., Any]
Listener = Callable[["Job", Any], None]


def orders_interval(rate: float | None = None) -> timedelta:
    """How often to sync one account: one searchOrders call per refill of its token bucket.

    searchOrders refills 0.0056 tokens/s (SPAPI.md §3.3), i.e. one call every ~179 s sustained; a pass
    usually takes one page, so syncing more often only spends the burst that backlogs need.
    """
    per_second = rate if rate is not None else PLANS["searchOrders"].rate
    return timedelta(seconds=math.ceil(1.0 / per_second))


@dataclass
class Job:
    """A task with its serialisable arguments, run every `interval` on `clock`."""

    name: str
    task: Task
    args: tuple[Any, ...]
    interval: timedelta
    clock: Clock
    due: datetime
    runs: int = 0
    failures: int = 0
    last_error: str | None = None


@dataclass
class Scheduler:
    """Jobs due by their own clocks; `run_pending()` runs what is due, `run()` loops until stopped."""

    on_done: Listener | None = None
    on_error: Listener | None = None
    jobs: list[Job] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def every(
        self,
        interval: timedelta,
        name: str,
        task: Task,
        *args: Any,
        clock: Clock = utc_now,
        first: timedelta = timedelta(0),
    ) -> Job:
        """Add a job; it is first due after `first` (0: at once)."""
        job = Job(name, task, args, interval, clock, clock() + first)
        self.jobs.append(job)
        return job

    def due_jobs(self) -> list[Job]:
        return sorted((job for job in self.jobs if job.clock() >= job.due), key=lambda job: job.due)

    def run_pending(self) -> int:
        """Run every job that is due, once each; returns how many ran."""
        ran = 0
        for job in self.due_jobs():
            if self.stop_event.is_set():
                break
            self._run(job)
            ran += 1
        return ran

    def _run(self, job: Job) -> None:
        job.runs += 1
        try:
            result = job.task(*job.args)
        except Exception as error:  # a job's failure must not stop the scheduler or the other jobs
            job.failures += 1
            job.last_error = f"{type(error).__name__}: {error}"
            log.warning("job %s failed: %s", job.name, job.last_error)
            if self.on_error is not None:
                self.on_error(job, error)
        else:
            job.last_error = None
            if self.on_done is not None:
                self.on_done(job, result)
        job.due = job.clock() + job.interval

    def run(self, *, tick: float = 0.5, until: Callable[[], bool] | None = None) -> None:
        """Run due jobs every `tick` real seconds until `stop()` or `until()` says so."""
        while not self.stop_event.is_set():
            self.run_pending()
            if until is not None and until():
                return
            self.stop_event.wait(tick)

    def stop(self) -> None:
        self.stop_event.set()
