"""Drop from expected_failures.py the cases a probe run saw pass (keeping every comment).

    python -m tests.conformance.probe SUBSTRING ... --out part.json
    python -m tests.conformance.prune_expected part.json
"""
import json
import os
import sys


def main() -> None:
    passed = {name for path in sys.argv[1:]
              for name, (status, _, _) in json.load(open(path)).items() if status == "PASS"}
    path = os.path.join(os.path.dirname(__file__), "expected_failures.py")
    lines = open(path).read().split("\n")
    kept = [l for l in lines if not (l.strip().startswith("'") and l.strip().split("'")[1] in passed)]
    with open(path, "w") as f:
        f.write("\n".join(kept))
    print(f"removed {len(lines) - len(kept)} cases that now pass")


if __name__ == "__main__":
    main()
