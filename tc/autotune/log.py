"""The tuning log: JSON lines, one record per measurement.

    {"version": 1, "tc_version": "0.1.0", "target": "llvm", "workload": "<task key>",
     "config": {"tile_x": 8}, "costs": [0.00123, 0.00121], "error": null,
     "timestamp": 1718000000.0, "threads": 2, "phase": "search",
     "baseline_costs": [0.00131, 0.00130]}

``costs`` are seconds per run (empty when the candidate failed); ``error`` is ``None`` or
what went wrong (a crash, a timeout, wrong results).  ``threads`` is the thread count of
tc's runtime (its thread pool) while the costs were measured: a parallel kernel's cost,
and so which config is best, depends on it.  It is ``null`` when unknown (a candidate
that was never timed), and records written before the field existed (same format
version) lack it, which reads as unknown.  ``best_record`` prefers the records measured
at the thread count asked for (see ``preferred_threads``).

``baseline_costs`` are the default config's seconds per run, timed in turn with
``costs`` in the same child process (``measure(paired=True)``).  A config is ranked by
its ratio to them, ``median(costs) / median(baseline_costs)``: the costs alone move by up
to 2x from one child process to the next on a busy machine, the ratio much less.  Where
some record lacks the field (an unpaired measurement, or a record written before it
existed), configs are ranked by their median costs instead.

``phase`` is "search" (a trial of the search) or "verify": after the search, the best
few configs of a task and its default are measured again, taking turns in fresh child
processes (``Tuner.verify``), because a single measurement on a busy machine can flatter
a config by 2x.  Where a workload has verify records, ``best_record`` chooses among
those alone, by the median of all their costs per config.  A record without the field
(written before it existed) is a search record.

Every record is flushed and synced as it is written, so a run killed at any moment
loses at most the line it was writing; a reader reports a malformed line (with its
number) and skips it.  A record of another format version is refused, naming the file,
the line and the version: this tc reads only ``FORMAT_VERSION``.  Matching is exact on
the target string, so a log written for one target is never applied to another.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time
import warnings
from dataclasses import dataclass

#: the record layout this tc writes and reads
FORMAT_VERSION = 1

_FIELDS = ("version", "tc_version", "target", "workload", "config", "costs", "error", "timestamp")


def pooled_records(records: list[dict]) -> dict[str, dict]:
    """``config_key`` -> the last of ``records`` with that config, holding the costs (and
    baseline costs) of all of them."""
    pooled: dict[str, dict] = {}
    for r in records:
        key = config_key(r["config"])
        before = pooled.get(key, {})
        merged = {**r, "costs": before.get("costs", []) + list(r["costs"])}
        if "baseline_costs" in r:
            merged["baseline_costs"] = before.get("baseline_costs", []) + list(r["baseline_costs"])
        pooled[key] = merged
    return pooled


def ranked_records(records: list[dict]) -> list[dict]:
    """``records`` (error-free) pooled by config (``pooled_records``), fastest first: by
    ``relative`` when every one was timed in turn with the default, else by median cost
    (of equals, the config seen first)."""
    pooled = list(pooled_records(records).values())
    if all(r.get("baseline_costs") for r in pooled):
        return sorted(pooled, key=relative)
    return sorted(pooled, key=lambda r: statistics.median(r["costs"]))


def relative(record: dict) -> float:
    """A record's median cost over the median of its ``baseline_costs`` (the default
    config's, timed in turn with it)."""
    return relative_cost(record["costs"], record["baseline_costs"])


def relative_cost(costs, baseline_costs) -> float | None:
    """median(costs) / median(baseline_costs); None without baseline costs."""
    if not baseline_costs:
        return None
    return statistics.median(costs) / statistics.median(baseline_costs)


class LogVersionError(ValueError):
    """A record of a format version this tc cannot read."""


def config_key(config: dict) -> str:
    """A config's canonical JSON (sorted keys, no spaces; tuples as lists): equal configs
    give equal keys."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


#: the phases of the tuning a record may come from (see the module docstring)
PHASES = ("search", "verify")


def make_record(target: str, workload: str, config: dict, costs, error: str | None = None,
                timestamp: float | None = None, threads: int | None = None,
                phase: str = "search", baseline_costs=()) -> dict:
    """A record of this format version and this tc's version (timestamp: now;
    ``threads``: the runtime's thread count during the measurement, None if unknown;
    ``phase``: "search" or "verify"; ``baseline_costs``: the default's costs timed in
    turn with ``costs``, if any)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    from .. import __version__

    record = {"version": FORMAT_VERSION, "tc_version": __version__, "target": str(target),
              "workload": workload, "config": json.loads(config_key(config)),
              "costs": [float(c) for c in costs], "error": error,
              "timestamp": time.time() if timestamp is None else timestamp,
              "threads": None if threads is None else int(threads), "phase": phase}
    if baseline_costs:
        record["baseline_costs"] = [float(c) for c in baseline_costs]
    return record


def record_problem(record) -> str | None:
    """What is wrong with a (current-version) record, or None when it is well formed."""
    if not isinstance(record, dict):
        return f"a record is a JSON object, not {type(record).__name__}"
    missing = [f for f in _FIELDS if f not in record]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    checks = [("tc_version", isinstance(record["tc_version"], str)),
              ("target", isinstance(record["target"], str) and record["target"]),
              ("workload", isinstance(record["workload"], str) and record["workload"]),
              ("config", isinstance(record["config"], dict)),
              ("costs", _is_costs(record["costs"])),
              ("baseline_costs", "baseline_costs" not in record or (
                  _is_costs(record["baseline_costs"]) and record["baseline_costs"]
                  and all(c > 0 for c in record["baseline_costs"]))),
              ("error", record["error"] is None or isinstance(record["error"], str)),
              ("timestamp", _is_number(record["timestamp"])),
              ("threads", record.get("threads") is None or (
                  isinstance(record["threads"], int) and not isinstance(record["threads"], bool)
                  and record["threads"] >= 1)),
              ("phase", record.get("phase", "search") in PHASES)]
    bad = [name for name, ok in checks if not ok]
    if bad:
        return f"bad value of {', '.join(bad)}"
    if record["error"] is None and not record["costs"]:
        return "no costs and no error"
    return None


def _is_costs(costs) -> bool:
    return isinstance(costs, list) and all(
        _is_number(c) and math.isfinite(c) and c >= 0 for c in costs)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass
class LogContents:
    """A log as read: its well-formed records and a text per malformed line."""

    records: list[dict]
    problems: list[str]


@dataclass
class LogSummary:
    """Counts for ``tc-tune`` to print."""

    path: str
    records: int
    errors: int
    workloads: int
    targets: list[str]
    problems: int

    def __str__(self) -> str:
        text = (f"{self.path}: {self.records} records ({self.errors} errors) for "
                f"{self.workloads} workloads")
        if self.targets:
            text += f" on {', '.join(self.targets)}"
        if self.problems:
            text += f"; {self.problems} malformed line{'s' if self.problems > 1 else ''} skipped"
        return text


class TuningLog:
    """A tuning log file: ``append`` records, read them back, find the best config.

    The records are read once (on first use) and kept; ``append`` adds to them.  Call
    ``reload`` to see what another process wrote since."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._contents: LogContents | None = None

    def append(self, record: dict) -> None:
        """Write ``record`` (see ``make_record``) as one line, flushed and synced before
        returning.  A record this reader would reject raises ValueError instead."""
        problem = _version_problem(record, self.path, None) or record_problem(record)
        if problem:
            raise ValueError(f"not a tuning record: {problem}: {record!r}")
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        with open(self.path, "a+b") as f:
            # a run killed mid-write leaves a last line without its newline: end it, so
            # that this record gets a line of its own (the partial one is reported)
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
        if self._contents is not None:
            self._contents.records.append(record)

    def read(self) -> LogContents:
        """The records and problems (one text per malformed line, with its number); no
        file reads as empty.  Raises LogVersionError on a record of another version."""
        if self._contents is None:
            self._contents = self._read()
        return self._contents

    def reload(self) -> LogContents:
        """Read the file again."""
        self._contents = None
        return self.read()

    def records(self) -> list[dict]:
        """The well-formed records; each malformed line is reported with
        ``warnings.warn`` (once per read of the file) and skipped."""
        first = self._contents is None
        contents = self.read()
        if first:
            for problem in contents.problems:
                warnings.warn(problem, stacklevel=2)
        return contents.records

    def best_record(self, target: str, workload: str, threads: int | None = None) -> dict | None:
        """The fastest error-free config of ``workload`` on exactly ``target``
        (``ranked_records``: by its ratio to the default timed beside it, or by median
        cost), as its last record holding the costs of all its records; None when there
        is none.  Only the records measured at the thread count ``preferred_threads``
        picks for ``threads`` (None: not known) count, and only the verify records where
        the workload has any."""
        ok = [r for r in self.records()
              if r["target"] == str(target) and r["workload"] == workload and r["error"] is None]
        chosen = preferred_threads({r.get("threads") for r in ok}, threads)
        ok = [r for r in ok if r.get("threads") == chosen]
        verified = [r for r in ok if r.get("phase") == "verify"]
        ranked = ranked_records(verified or ok)
        return ranked[0] if ranked else None

    def best(self, target: str, workload: str, threads: int | None = None) -> dict | None:
        """The config of ``best_record``, or None when the log has none."""
        record = self.best_record(target, workload, threads)
        return None if record is None else record["config"]

    def measured(self, target: str, workload: str) -> set[str]:
        """``config_key`` of every config of ``workload`` on ``target`` that has a record
        (failed ones included), so that a resumed run measures none of them again."""
        return {config_key(r["config"]) for r in self.records()
                if r["target"] == str(target) and r["workload"] == workload}

    def summary(self) -> LogSummary:
        """How many records, errors, workloads and malformed lines the log holds."""
        contents = self.read()
        recs = contents.records
        return LogSummary(self.path, len(recs), sum(r["error"] is not None for r in recs),
                          len({(r["target"], r["workload"]) for r in recs}),
                          sorted({r["target"] for r in recs}), len(contents.problems))

    def _read(self) -> LogContents:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return LogContents([], [])
        records, problems = [], []
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                record = json.loads(raw)
            except ValueError as e:
                last = number == len(lines)  # no newline after it
                why = "truncated (a run killed mid-write?)" if last else f"not JSON ({e})"
                problems.append(f"{where}: {why}; line skipped")
                continue
            version_problem = _version_problem(record, self.path, number)
            problem = version_problem or record_problem(record)
            if problem:
                problems.append(f"{where}: {problem}; line skipped")
                continue
            records.append(record)
        return LogContents(records, problems)


def preferred_threads(counts, wanted: int | None) -> int | None:
    """Which of the thread counts ``counts`` (None: unknown) a build that will run at
    ``wanted`` threads should take its records from: ``wanted`` itself when measured;
    else the nearest known count (of two equally near, the larger); with ``wanted``
    unknown, the largest known count (a tuning run measures at the runtime's default,
    all cores, which is also how a module runs unless told otherwise); the unknown
    count only when no record says."""
    known = [c for c in counts if c is not None]
    if not known:
        return None
    if wanted is None:
        return max(known)
    return min(known, key=lambda c: (abs(c - wanted), -c))


def _version_problem(record, path: str, number: int | None) -> str | None:
    """Raise LogVersionError for a record of another format version; a text for a
    record with no usable version; None for this version."""
    if not isinstance(record, dict) or "version" not in record:
        return None if not isinstance(record, dict) else "missing field version"
    version = record["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        return f"bad value of version: {version!r}"
    if version != FORMAT_VERSION:
        where = f"{path}:{number}" if number is not None else path
        age = "an older" if version < FORMAT_VERSION else "a newer"
        writer = record.get("tc_version")
        raise LogVersionError(
            f"{where}: record of tuning-log format version {version} ({age} format"
            f"{', written by tc ' + str(writer) if writer else ''}); this tc reads version "
            f"{FORMAT_VERSION} only: tune again into a new log, or use the tc that wrote it")
    return None
