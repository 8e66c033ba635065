"""Adds up the results of scripts/test's suites into one line.

usage: tally.py [--meson TESTLOG.json] [--junit PYTEST.xml ...] [--broken N]

--meson reads meson's test log (one JSON object per line), --junit pytest's
JUnit XML (once per pytest run); --broken counts suites that could not
report at all (a failed build, a run that was killed) as one failure each.
Prints one line per suite, then `N passed, N failed` (with `, N skipped`
when some were) as the last line. Exits 1 if anything failed or nothing
ran, else 0.
"""

import argparse
import json
import sys
import xml.etree.ElementTree as ET

MESON_PASSED = {"OK", "EXPECTEDFAIL"}
MESON_SKIPPED = {"SKIP"}


def meson_counts(path):
    """(passed, failed, skipped) from meson's testlog.json."""
    counts = [0, 0, 0]
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            result = json.loads(line)["result"]
            if result in MESON_PASSED:
                counts[0] += 1
            elif result in MESON_SKIPPED:
                counts[2] += 1
            else:
                counts[1] += 1
    return counts


def junit_counts(path):
    """(passed, failed, skipped) from pytest's JUnit XML; a test case with
    an error (in setup or teardown too) counts as failed."""
    counts = [0, 0, 0]
    for case in ET.parse(path).iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            counts[1] += 1
        elif "skipped" in tags:
            counts[2] += 1
        else:
            counts[0] += 1
    return counts


def line(counts):
    text = "%d passed, %d failed" % (counts[0], counts[1])
    if counts[2]:
        text += ", %d skipped" % counts[2]
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--meson")
    parser.add_argument("--junit", action="append", default=[])
    parser.add_argument("--broken", type=int, default=0)
    args = parser.parse_args()

    suites = []
    if args.meson:
        suites.append(("unit", meson_counts(args.meson)))
    if args.junit:
        runs = [junit_counts(path) for path in args.junit]
        suites.append(("integration", [sum(c) for c in zip(*runs)]))

    total = [0, args.broken, 0]
    for name, counts in suites:
        print("%s: %s" % (name, line(counts)))
        total = [t + c for t, c in zip(total, counts)]
    if args.broken:
        print("suites that reported nothing: %d (counted as failed)"
              % args.broken)

    print(line(total))
    return 1 if total[1] or total[0] + total[1] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
