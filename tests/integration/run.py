"""Runs the integration suite: python3 tests/integration/run.py [pytest args]

Use the python3 that carries boto3 and the aws CLI v1 (on this project's
machines, the one first on PATH). If it has no pytest of its own, Debian's
python3-pytest is borrowed from /usr/lib/python3/dist-packages, appended to
the path so that this interpreter's own packages (botocore, urllib3) still
win. awscrt is blocked first: Debian ships it for its aws CLI v2, and
botocore would switch to its signers if it could import it.

Two options of its own, for scripts/test:
  --shard I/N    run only the I-th of N shares of the test files (I from
                 1), so N runs side by side, each with its own server,
                 cover the suite once
  --budget SECS  fail every test that would start after SECS seconds, so a
                 slow run still ends with a full report
"""

import sys
import time

DEBIAN_PACKAGES = "/usr/lib/python3/dist-packages"

sys.modules["awscrt"] = None

try:
    import pytest
except ImportError:
    sys.path.append(DEBIAN_PACKAGES)
    import pytest


def split_files(items, count):
    """Deals the test files out to count shares, largest file first, each
    to the share with the fewest tests so far. Returns a list of sets of
    file paths; every run computes the same split from the same items."""
    sizes = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        sizes[path] = sizes.get(path, 0) + 1

    shares = [set() for _ in range(count)]
    loads = [0] * count
    for path in sorted(sizes, key=lambda p: (-sizes[p], p)):
        i = loads.index(min(loads))
        shares[i].add(path)
        loads[i] += sizes[path]
    return shares


class RunLimits:
    """The --shard and --budget options."""

    def __init__(self):
        self.started = time.monotonic()
        self.budget = None

    def pytest_addoption(self, parser):
        parser.addoption("--shard", default=None,
                         help="I/N: run the I-th of N shares of the files")
        parser.addoption("--budget", type=float, default=None,
                         help="seconds after which no test starts")

    def pytest_configure(self, config):
        self.budget = config.getoption("--budget")

    def pytest_collection_modifyitems(self, config, items):
        shard = config.getoption("--shard")
        if not shard:
            return
        index, count = (int(n) for n in shard.split("/"))
        mine = split_files(items, count)[index - 1]
        keep = [i for i in items if i.nodeid.split("::")[0] in mine]
        dropped = [i for i in items if i.nodeid.split("::")[0] not in mine]
        items[:] = keep
        config.hook.pytest_deselected(items=dropped)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        if self.budget is None:
            return
        if time.monotonic() - self.started > self.budget:
            pytest.fail("not started: the run's time budget of %.0f s "
                        "was used up" % self.budget)


sys.exit(pytest.main(sys.argv[1:], plugins=[RunLimits()]))
