"""The tuning log: records round-trip, survive a killed writer, malformed lines are
reported and skipped, other format versions refused, best() matches the target exactly."""
import json
import warnings

import pytest

import tc
from tc.autotune import (
    FORMAT_VERSION,
    LogVersionError,
    TuningLog,
    config_key,
    make_record,
)

TARGET, OTHER = "llvm -mcpu=znver3", "llvm -mcpu=skylake-avx512"
WL = "PackedConv+Relu float32[1,3,32,32] -> float32[1,16,32,32] #0123456789abcdef"


def rec(config, costs, error=None, target=TARGET, workload=WL):
    return make_record(target, workload, config, costs, error)


def filled(path):
    log = TuningLog(path)
    log.append(rec({"tile": 4, "order": [0, 2, 1]}, [3e-3, 1e-3, 2e-3]))
    log.append(rec({"tile": 8, "order": [0, 1, 2]}, [2e-3, 2e-3, 2e-3]))
    log.append(rec({"tile": 16, "order": [0, 1, 2]}, [], error="timeout after 10 s"))
    return log


def read_quietly(path):
    """The records of a fresh reader and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = TuningLog(path).records()
    return records, [str(w.message) for w in caught]


def test_round_trip(tmp_path):
    path = tmp_path / "tune.jsonl"
    written = [r for r in filled(path).records()]
    records, problems = read_quietly(path)
    assert problems == [] and records == written and len(records) == 3
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"version", "tc_version", "target", "workload", "config", "costs",
                          "error", "timestamp", "threads", "phase"}
    assert first["version"] == FORMAT_VERSION and first["tc_version"] == tc.__version__
    assert first["config"] == {"tile": 4, "order": [0, 2, 1]}


def test_each_append_is_on_disk_at_once(tmp_path):
    path = tmp_path / "tune.jsonl"
    log = TuningLog(path)
    for i in range(3):
        log.append(rec({"tile": i + 1}, [1e-3]))
        assert len(path.read_text().splitlines()) == i + 1


def test_best_takes_lowest_median_without_errors_or_other_targets(tmp_path):
    path = tmp_path / "tune.jsonl"
    log = filled(path)
    # medians: tile 4 -> 2e-3 (its minimum 1e-3 does not count), tile 8 -> 2e-3 (first of
    # equals wins), a failed tile 16 and a faster record for another target are ignored
    log.append(rec({"tile": 32}, [1e-4], target=OTHER))
    log.append(rec({"tile": 2}, [1e-6], error="wrong results: max error 0.5"))
    assert log.best(TARGET, WL) == {"tile": 4, "order": [0, 2, 1]}
    assert TuningLog(path).best(OTHER, WL) == {"tile": 32}
    log.append(rec({"tile": 64}, [1.5e-3, 1.5e-3]))
    assert log.best(TARGET, WL) == {"tile": 64}
    assert log.best("llvm", WL) is None
    assert log.best(TARGET, "MaxPool float32[1] -> float32[1] #x") is None
    assert log.best_record(TARGET, WL)["costs"] == [1.5e-3, 1.5e-3]


def test_measured_has_every_config_of_the_workload(tmp_path):
    log = filled(tmp_path / "tune.jsonl")
    log.append(rec({"tile": 32}, [1e-4], target=OTHER))
    assert log.measured(TARGET, WL) == {config_key({"tile": t, "order": o}) for t, o in
                                        [(4, [0, 2, 1]), (8, [0, 1, 2]), (16, [0, 1, 2])]}
    # key order and tuples vs lists do not matter
    assert config_key({"order": (0, 1, 2), "tile": 8}) in log.measured(TARGET, WL)
    assert log.measured(OTHER, WL) == {config_key({"tile": 32})}


def test_truncated_last_line_is_reported_and_appending_goes_on(tmp_path):
    """A run killed mid-write leaves half a line: it is skipped with its line number, and
    the next append starts a line of its own."""
    path = tmp_path / "tune.jsonl"
    filled(path)
    whole = path.read_text()
    line = json.dumps(rec({"tile": 128}, [5e-4]), sort_keys=True)
    path.write_text(whole + line[:len(line) // 2])
    records, problems = read_quietly(path)
    assert len(records) == 3
    assert len(problems) == 1 and f"{path}:4: truncated" in problems[0]
    TuningLog(path).append(rec({"tile": 256}, [4e-4]))
    records, problems = read_quietly(path)
    assert [r["config"]["tile"] for r in records] == [4, 8, 16, 256]
    assert len(problems) == 1 and f"{path}:4: not JSON" in problems[0]
    with pytest.warns(UserWarning, match=":4: not JSON"):
        assert TuningLog(path).best(TARGET, WL) == {"tile": 256}


def test_garbage_and_bad_records_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "tune.jsonl"
    filled(path)
    lines = path.read_text().splitlines()
    bad_costs = dict(json.loads(lines[0]), costs=["fast"])
    no_workload = {k: v for k, v in json.loads(lines[1]).items() if k != "workload"}
    lines[1:1] = ["#!@ not json at all", "", json.dumps(bad_costs), json.dumps(no_workload),
                  "[1, 2]"]
    path.write_text("\n".join(lines) + "\n")
    log = TuningLog(path)
    contents = log.read()
    assert len(contents.records) == 3
    assert [p.split(": ")[0] for p in contents.problems] == [f"{path}:{n}" for n in (2, 4, 5, 6)]
    assert "not JSON" in contents.problems[0]
    assert "costs" in contents.problems[1] and "workload" in contents.problems[2]
    records, warned = read_quietly(path)
    assert len(records) == 3 and warned == contents.problems
    assert log.summary().problems == 4


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1])
def test_other_format_version_is_refused(tmp_path, version):
    path = tmp_path / "tune.jsonl"
    filled(path)
    other = dict(rec({"tile": 2}, [1e-3]), version=version, tc_version="9.9")
    with open(path, "a") as f:
        f.write(json.dumps(other) + "\n")
    with pytest.raises(LogVersionError) as e:
        TuningLog(path).records()
    message = str(e.value)
    assert f"{path}:4" in message and f"format version {version}" in message
    assert "tc 9.9" in message and f"reads version {FORMAT_VERSION}" in message
    with pytest.raises(LogVersionError):
        TuningLog(tmp_path / "new.jsonl").append(other)


def test_append_refuses_what_the_reader_would_skip(tmp_path):
    log = TuningLog(tmp_path / "tune.jsonl")
    with pytest.raises(ValueError, match="costs"):
        log.append(rec({"tile": 4}, [float("nan")]))
    with pytest.raises(ValueError, match="no costs and no error"):
        log.append(rec({"tile": 4}, []))
    assert log.records() == []


def test_summary(tmp_path):
    log = filled(tmp_path / "tune.jsonl")
    log.append(rec({"tile": 32}, [1e-4], target=OTHER, workload="Softmax #1"))
    s = log.summary()
    assert (s.records, s.errors, s.workloads, s.problems) == (4, 1, 2, 0)
    assert str(s) == (f"{tmp_path / 'tune.jsonl'}: 4 records (1 errors) for 2 workloads on "
                      f"{OTHER}, {TARGET}")
    assert str(TuningLog(tmp_path / "missing.jsonl").summary()).endswith(
        "0 records (0 errors) for 0 workloads")
