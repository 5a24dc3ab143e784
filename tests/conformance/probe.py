"""Run ONNX's backend test suite against tc case by case and record each outcome.

    python -m tests.conformance.probe [SUBSTRING ...] [--out results.json] [--write-expected]

Prints one line per case (PASS/FAIL/SKIP with the last line of the error) and a summary
with the node-test pass rate.  ``--write-expected`` regenerates
tests/conformance/expected_failures.py from the failures, each with its reason.
"""
from __future__ import annotations

import argparse
import collections
import json
import time
import unittest
import warnings


def run_cases(substrings: list[str]) -> dict[str, tuple[str, str, str]]:
    """name -> (PASS|FAIL|SKIP, suite class name, last error line) for every CPU case."""
    import onnx.backend.test

    from tc.frontends.onnx_backend import TcBackend

    suite = onnx.backend.test.BackendTest(TcBackend, "probe")
    results = {}
    for cls_name, cls in sorted(suite.test_cases.items()):
        for name in sorted(n for n in dir(cls) if n.startswith("test_") and n.endswith("_cpu")):
            if substrings and not any(s in name for s in substrings):
                continue
            outcome = unittest.TestResult()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls(name).run(outcome)
            if outcome.failures or outcome.errors:
                lines = [l for l in (outcome.failures + outcome.errors)[0][1].splitlines() if l.strip()]
                results[name] = ("FAIL", cls_name, _error_line(lines))
            elif outcome.skipped:
                results[name] = ("SKIP", cls_name, outcome.skipped[0][1][:200])
            else:
                results[name] = ("PASS", cls_name, "")
            print(f"{name} {results[name][0]} {results[name][2][:150]}", flush=True)
    return results


def _error_line(lines: list[str]) -> str:
    """The most telling line of a traceback: the exception, or the mismatch summary."""
    unsupported = [l.split(":")[0].strip() for l in lines if ": used by " in l]
    if unsupported:
        return "unsupported ops: " + ", ".join(unsupported)
    for line in lines:
        if line.startswith("Mismatched elements") or "Not equal to tolerance" in line:
            return "wrong result: " + line.strip()
    for line in reversed(lines):
        if "Error" in line or "error" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("substrings", nargs="*", help="only cases whose name contains one of these")
    ap.add_argument("--out", default="conformance_results.json")
    ap.add_argument("--write-expected", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = run_cases(args.substrings)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    counts = collections.Counter((cls, status) for status, cls, _ in results.values())
    for (cls, status), n in sorted(counts.items()):
        print(f"{cls:40} {status:5} {n}")
    node = [s for s, cls, _ in results.values() if cls == "OnnxBackendNodeModelTest"]
    if node:
        print(f"node tests: {node.count('PASS')}/{len(node)} pass "
              f"({100 * node.count('PASS') / len(node):.1f}%) in {time.perf_counter() - t0:.0f} s")
    if args.write_expected:
        from .expected_failures_writer import write_expected_failures

        write_expected_failures(results)


if __name__ == "__main__":
    main()
