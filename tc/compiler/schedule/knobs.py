"""Knobs: the decisions of a schedule template that a tuner may change.

A default schedule (``defaults.py``) is a template: wherever it makes a choice a tuner
should search (a tile size, a loop order, whether a loop runs in parallel), it asks
``knobs.pick(name, choices, default)`` instead of hard-coding the answer.  With no
config every pick returns its default, so the template gives today's schedule; with a
config (a small JSON-able dict ``{knob name: value}``, as a tuning log stores it) the
configured values replace the defaults::

    knobs = Knobs({"s2.conv2d_blocked.tile": [1, 7, 2]})
    sch = default_schedule(outputs, target, knobs)
    knobs.check_all_used()   # a config key no pick asked for is an error, not a no-op
    knobs.space              # {"s2.conv2d_blocked.tile": Knob(choices=([1, 7, 1], ...),
                             #                                  default=[2, 2, 2]), ...}

Knob values are ints, bools, short strings or lists of ints (tuples are stored as
lists, so that a config survives a JSON round trip unchanged).  A config value that is
not among a knob's choices, a config key that no pick asked for, or a combination of
values the template cannot build raises ``InvalidConfig``: the one exception a search
treats as "skip this candidate".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schedule import ScheduleError


class InvalidConfig(ScheduleError):
    """A config the schedule template cannot build: an unknown knob, a value that is not
    among a knob's choices, or values that do not fit together (a tile that does not
    divide its loop, more accumulators than registers)."""


@dataclass(frozen=True)
class Knob:
    """One decision of a template: its candidate values and the value it takes when the
    config leaves it alone, e.g. the register tile of a blocked conv::

        Knob(choices=([1, 7, 1], [1, 14, 1], [2, 2, 2]), default=[2, 2, 2])
    """

    choices: tuple
    default: Any


def _canonical(value):
    """``value`` as a config stores it: tuples become lists (JSON has no tuples)."""
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    return value


def _same(a, b) -> bool:
    """Equality that keeps bools apart from ints (``True == 1`` in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is not list and type(b) is not list and a == b


class Knobs:
    """The knobs a template picked while scheduling one workload, and the config that
    sets some of them.

    ``pick`` records each knob in ``space`` (in the order the template asks) and returns
    the configured value or the default; ``chosen`` holds the value each pick returned
    (the full config the schedule was built with).
    """

    def __init__(self, config: dict | None = None):
        self.config = dict(config or {})
        self.space: dict[str, Knob] = {}
        self.chosen: dict[str, Any] = {}

    def pick(self, name: str, choices, default):
        """The value of knob ``name``: ``config[name]`` when the config sets it (it must
        be one of ``choices``, else ``InvalidConfig``), else ``default``.

        Picking a name again with the same choices and default returns the same value
        (a template may consult one knob for two stages that must agree)."""
        choices = tuple(_canonical(c) for c in choices)
        default = _canonical(default)
        if not choices:
            raise ValueError(f"knob {name!r} has no choices")
        if not any(_same(default, c) for c in choices):
            raise ValueError(f"knob {name!r}: the default {default!r} is not among its "
                             f"choices {list(choices)} (a template bug)")
        knob = Knob(choices, default)
        if name in self.space:
            if self.space[name] != knob:
                raise ValueError(f"knob {name!r} picked twice with different choices: "
                                 f"{self.space[name]} and {knob} (a template bug)")
            return self.chosen[name]
        self.space[name] = knob
        value = default
        if name in self.config:
            wanted = _canonical(self.config[name])
            value = next((c for c in choices if _same(wanted, c)), None)
            if value is None:
                raise InvalidConfig(f"knob {name!r}: {self.config[name]!r} is not one of its "
                                    f"choices {list(choices)}")
        self.chosen[name] = value
        return value

    def scope(self, prefix: str) -> KnobScope:
        """A view whose ``pick(name, ...)`` picks ``prefix + name`` here."""
        return KnobScope(self, prefix)

    def check_all_used(self) -> None:
        """Raise ``InvalidConfig`` when the config sets a knob that no pick asked for (a
        stale or mistyped config would otherwise silently change nothing).  Call it
        after scheduling."""
        unused = [k for k in self.config if k not in self.space]
        if unused:
            raise InvalidConfig(f"config sets {unused}, which this schedule has no knob for; "
                                f"its knobs are {list(self.space)}")


class KnobScope:
    """Knobs whose names share a prefix, e.g. one stage's ``"s2.conv2d_blocked."``."""

    def __init__(self, knobs: Knobs, prefix: str):
        self.knobs, self.prefix = knobs, prefix

    def pick(self, name: str, choices, default):
        """``Knobs.pick`` of ``prefix + name``."""
        return self.knobs.pick(self.prefix + name, choices, default)

    def invalid(self, name: str, message: str) -> InvalidConfig:
        """An ``InvalidConfig`` for knob(s) ``name`` of this scope (values that do not fit
        together), naming the chosen values."""
        return InvalidConfig(f"{self.prefix}{name}: {message}")
