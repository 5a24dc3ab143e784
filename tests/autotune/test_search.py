"""The proposer: random batches never repeat a measured config; annealing on a score
finds the best configs of a space in a fraction of it and never proposes a config the
score rejects."""
import math
from dataclasses import dataclass

from tc.autotune.search import Proposer, config_key, space_size


@dataclass(frozen=True)
class Knob:
    choices: tuple
    default: object


SPACE = {f"k{i}": Knob(tuple(range(8)), 0) for i in range(4)}  # 4096 configs
BEST = {"k0": 5, "k1": 2, "k2": 7, "k3": 3}


def score(configs):
    """Higher near BEST; k0 == 1 is an illegal config (-inf)."""
    return [-math.inf if c["k0"] == 1 else -sum(abs(c[k] - BEST[k]) for k in BEST)
            for c in configs]


def test_random_batches_are_distinct_and_skip_measured_configs():
    proposer = Proposer(SPACE, seed=1)
    measured = {config_key(proposer.random_config()) for _ in range(100)}
    batch = proposer.random_batch(64, measured)
    keys = [config_key(c) for c in batch]
    assert len(batch) == 64 and len(set(keys)) == 64 and not set(keys) & measured
    assert space_size(SPACE) == 4096


def test_a_nearly_exhausted_space_gives_what_is_left():
    tiny = {"a": Knob((1, 2), 1), "b": Knob((True, False), True)}
    proposer = Proposer(tiny, seed=0)
    measured = {config_key({"a": 1, "b": True}), config_key({"a": 2, "b": True})}
    assert sorted(config_key(c) for c in proposer.random_batch(8, measured)) == sorted(
        [config_key({"a": 1, "b": False}), config_key({"a": 2, "b": False})])


def test_annealing_finds_the_best_region_and_never_proposes_rejected_configs():
    proposer = Proposer(SPACE, seed=2)
    batch = proposer.annealed_batch(16, set(), score, starts=[], epsilon=0.0, walkers=16,
                                    steps=20)
    values = score(batch)
    assert -math.inf not in values
    # 16 x 21 scored points out of 4096; random configs are about 10 steps from the best
    rand = [v for v in score(Proposer(SPACE, seed=2).random_batch(64, set())) if v != -math.inf]
    mean = sum(values) / len(values)
    assert max(values) >= -2 and mean > 2 * sum(rand) / len(rand) and mean > -5


def test_epsilon_share_of_a_batch_is_random_and_the_rest_annealed():
    proposer = Proposer(SPACE, seed=3)
    calls = []

    def counting(configs):
        calls.append(len(configs))
        return score(configs)

    batch = proposer.annealed_batch(10, set(), counting, starts=[dict(BEST)], epsilon=0.3,
                                    walkers=8, steps=5)
    assert len(batch) == 10 and len({config_key(c) for c in batch}) == 10
    assert calls == [8] * 6  # the start points, then one call per step
    assert config_key(BEST) in {config_key(c) for c in batch}  # a start is proposed too
