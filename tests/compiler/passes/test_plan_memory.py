"""Static memory planning: no two simultaneously live tensors overlap; reuse happens."""
import random

from tc.compiler.passes.plan_memory import ALIGN, Lifetime, plan_memory


def _overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def _check_no_conflicts(lifetimes, plan):
    for i, t in enumerate(lifetimes):
        for u in lifetimes[i + 1:]:
            if t.start <= u.end and u.start <= t.end:
                ta = (plan.offsets[t.name], plan.offsets[t.name] + t.nbytes)
                ua = (plan.offsets[u.name], plan.offsets[u.name] + u.nbytes)
                assert not _overlap(ta, ua), (t, u, ta, ua)
        assert plan.offsets[t.name] % ALIGN == 0
        assert plan.offsets[t.name] + t.nbytes <= plan.arena_bytes


def test_chain_reuses_memory():
    # a -> b -> c -> d: only two tensors live at a time
    ls = [Lifetime(n, 1024, i, i + 1) for i, n in enumerate("abcd")]
    plan = plan_memory(ls)
    _check_no_conflicts(ls, plan)
    assert plan.arena_bytes == 2048
    assert plan.lower_bound == 2048
    assert plan.naive_bytes == 4096


def test_random_lifetimes_never_conflict_and_respect_bounds():
    rng = random.Random(0)
    for _ in range(50):
        ls = []
        for i in range(rng.randint(1, 30)):
            s = rng.randint(0, 20)
            ls.append(Lifetime(f"t{i}", rng.randint(1, 5000), s, s + rng.randint(0, 6)))
        plan = plan_memory(ls)
        _check_no_conflicts(ls, plan)
        assert plan.lower_bound <= plan.arena_bytes <= plan.naive_bytes


def test_empty():
    plan = plan_memory([])
    assert plan.arena_bytes == plan.lower_bound == plan.naive_bytes == 0
