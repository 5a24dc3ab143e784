"""Proposing configs to measure: random sampling, and simulated annealing scored by the
cost model, with epsilon-greedy exploration.

A config is a dict {knob name: value}; the space maps each knob name to its ``Knob``
(``choices``, ``default``).  Search works on the configs themselves: a neighbour changes
one knob to another of its choices.  ``score(configs)`` (higher = predicted faster) is
the caller's: the tuner lowers each config, extracts loop-IR features and asks the cost
model; a config the template rejects scores ``-inf`` and is never proposed.  Random
draws (before the model has data, and the epsilon share) are filtered by the caller's
``valid(config) -> bool``, so that no proposal is a config the template rejects.

    proposer = Proposer(space, seed=0)
    batch = proposer.random_batch(16, measured, valid)     # before the model has data
    batch = proposer.annealed_batch(16, measured, score, starts=best_measured, epsilon=0.1,
                                    valid=valid)
"""
from __future__ import annotations

import math
import random

from .log import config_key


def space_size(space: dict) -> int:
    """The number of configs of ``space`` (the product of its knobs' choice counts)."""
    return math.prod(len(knob.choices) for knob in space.values())


class Proposer:
    """Draws configs of ``space`` that are not measured yet (``measured``: a set of
    ``config_key``s), deterministically for a seed."""

    def __init__(self, space: dict, seed: int = 0):
        self.space = space
        self.names = list(space)
        self.rng = random.Random(seed)

    def default(self) -> dict:
        return {name: knob.default for name, knob in self.space.items()}

    def random_config(self) -> dict:
        return {name: self.rng.choice(list(knob.choices)) for name, knob in self.space.items()}

    def neighbour(self, config: dict) -> dict:
        """``config`` with one knob (that has another choice) set to another value."""
        names = [n for n in self.names if len(self.space[n].choices) > 1]
        if not names:
            return dict(config)
        name = self.rng.choice(names)
        others = [c for c in self.space[name].choices if c != config[name]]
        return {**config, name: self.rng.choice(others)}

    def random_batch(self, size: int, measured: set[str], valid=None,
                     tries: int = 50) -> list[dict]:
        """Up to ``size`` distinct unmeasured configs drawn uniformly, each accepted by
        ``valid(config)`` when given (fewer when the space is nearly exhausted)."""
        batch, seen = [], set(measured)
        for _ in range(size * tries):
            if len(batch) == size:
                break
            config = self.random_config()
            key = config_key(config)
            if key not in seen:
                seen.add(key)
                if valid is None or valid(config):
                    batch.append(config)
        return batch

    def annealed_batch(self, size: int, measured: set[str], score, starts: list[dict],
                       epsilon: float = 0.1, walkers: int = 16, steps: int = 12,
                       temperature: float = 1.0, valid=None) -> list[dict]:
        """``size`` unmeasured configs: a fraction ``epsilon`` drawn at random
        (exploration), the rest the best-scoring configs that ``walkers`` annealing walks
        met in ``steps`` steps from ``starts`` (the best measured configs) and random
        points.  ``score(list of configs) -> list of floats`` is called once per step;
        ``valid`` filters the random draws (see ``random_batch``)."""
        explore = min(size, int(round(size * epsilon)))
        batch = self.random_batch(explore, measured, valid)
        taken = set(measured) | {config_key(c) for c in batch}
        points = [dict(c) for c in starts[:walkers]]
        points += [self.random_config() for _ in range(walkers - len(points))]
        values = list(score(points))
        met: dict[str, tuple[float, dict]] = {}

        def remember(configs, scores):
            for c, v in zip(configs, scores):
                key = config_key(c)
                if key not in taken and v != -math.inf:
                    met[key] = (v, c)

        remember(points, values)
        finite = [v for v in values if v != -math.inf]
        # the model's scores have no fixed scale: temperatures are in units of their spread
        spread = (max(finite) - min(finite)) if len(finite) > 1 else 1.0
        spread = spread or 1.0
        for step in range(steps):
            t = temperature * (1 - step / steps) + 1e-3
            moved = [self.neighbour(p) for p in points]
            moved_values = list(score(moved))
            remember(moved, moved_values)
            for i, (new, old) in enumerate(zip(moved_values, values)):
                # scores are log-speed-like: accept a worse move with Metropolis odds
                if new >= old or (new != -math.inf and old != -math.inf and
                                  self.rng.random() < math.exp((new - old) / (spread * t))):
                    points[i], values[i] = moved[i], new
        ranked = sorted(met.values(), key=lambda vc: -vc[0])
        for _, config in ranked:
            if len(batch) == size:
                break
            batch.append(config)
            taken.add(config_key(config))
        if len(batch) < size:  # the walks met too few new configs: fill at random
            batch += self.random_batch(size - len(batch), taken, valid)
        return batch
