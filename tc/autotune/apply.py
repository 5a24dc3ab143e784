"""Applying a tuning log at compile time: the best record's config for each tunable
group of the model, matched by workload key and tuning target (``tuning_target``: a log
tuned on another CPU or triple is not applied), preferring the records measured at the
thread count the model will run at (``AppliedLog``)."""
from __future__ import annotations

import os

from .log import TuningLog
from .tasks import group_key, is_tunable, tuning_target


class AppliedLog:
    """Looks up configs for ``build`` and counts what it found.

    ``found``/``missing``: tunable workloads with and without a record for the target;
    ``rejected``: records whose config the schedule template refused (a log written by
    another tc version), which fall back to the default schedule.

    ``threads``: the thread count the built model will run at, whose records are
    preferred (``log.preferred_threads``: that count when the log has records of it,
    else the nearest).  None: the runtime's default when the build can tell, i.e.
    ``$TC_NUM_THREADS`` when set (a build does not fix the count: a Module runs at that
    or at all physical cores unless ``set_num_threads`` says otherwise); without it the
    records of the most threads, the count a tuning run measures at by default."""

    def __init__(self, log: TuningLog | str, target, threads: int | None = None):
        self.log = log if isinstance(log, TuningLog) else TuningLog(log)
        self.target = tuning_target(target)
        self.threads = threads if threads is not None else _env_threads()
        self.found: set[str] = set()
        self.missing: set[str] = set()
        self.rejected: set[str] = set()

    def config_for(self, group) -> dict | None:
        """The best logged config for ``group``, or None (default schedule)."""
        found = self.lookup(group)
        return None if found is None else found[1]

    def lookup(self, group) -> tuple[str, dict] | None:
        """(``group``'s workload key, its best logged config), or None."""
        if not is_tunable(group):
            return None
        key = group_key(group)
        config = self.log.best(self.target, key, self.threads)
        (self.found if config is not None else self.missing).add(key)
        return None if config is None else (key, config)

    def reject(self, key: str) -> None:
        """The template refused the logged config of workload ``key``: it was built with
        defaults."""
        self.found.discard(key)
        self.rejected.add(key)

    @property
    def untuned(self) -> int:
        """Tunable workloads left on default schedules (no record, or a refused one)."""
        return len(self.missing) + len(self.rejected)

    def summary(self) -> str:
        """One line: how many tunable workloads used a logged config."""
        total = len(self.found) + len(self.missing) + len(self.rejected)
        line = (f"tuning log {self.log.path}: {len(self.found)} of {total} tunable workloads "
                f"tuned for {self.target}")
        if self.missing:
            line += f"; {len(self.missing)} had no record and use default schedules"
        if self.rejected:
            line += (f"; {len(self.rejected)} records were refused by the schedule templates "
                     "(an older log?) and use default schedules")
        return line


def _env_threads() -> int | None:
    """``$TC_NUM_THREADS`` as the runtime reads it (a positive integer), else None."""
    text = os.environ.get("TC_NUM_THREADS", "")
    return int(text) if text.isdigit() and int(text) > 0 else None
