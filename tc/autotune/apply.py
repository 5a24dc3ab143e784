"""Applying a tuning log at compile time: the best record's config for each tunable
group of the model, matched by workload key and tuning target (``tuning_target``: a log
tuned on another CPU or triple is not applied)."""
from __future__ import annotations

from .log import TuningLog
from .tasks import group_key, is_tunable, tuning_target


class AppliedLog:
    """Looks up configs for ``build`` and counts what it found.

    ``found``/``missing``: tunable workloads with and without a record for the target;
    ``rejected``: records whose config the schedule template refused (a log written by
    another tc version), which fall back to the default schedule."""

    def __init__(self, log: TuningLog | str, target):
        self.log = log if isinstance(log, TuningLog) else TuningLog(log)
        self.target = tuning_target(target)
        self.found: set[str] = set()
        self.missing: set[str] = set()
        self.rejected: set[str] = set()

    def config_for(self, group) -> dict | None:
        """The best logged config for ``group``, or None (default schedule)."""
        if not is_tunable(group):
            return None
        key = group_key(group)
        config = self.log.best(self.target, key)
        (self.found if config is not None else self.missing).add(key)
        return config

    def reject(self, group) -> None:
        """The template refused ``group``'s logged config: it was built with defaults."""
        key = group_key(group)
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
