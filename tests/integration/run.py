"""Runs the integration suite: python3 tests/integration/run.py [pytest args]

Use the python3 that carries boto3 and the aws CLI v1 (on this project's
machines, the one first on PATH). If it has no pytest of its own, Debian's
python3-pytest is borrowed from /usr/lib/python3/dist-packages, appended to
the path so that this interpreter's own packages (botocore, urllib3) still
win. awscrt is blocked first: Debian ships it for its aws CLI v2, and
botocore would switch to its signers if it could import it.
"""

import sys

DEBIAN_PACKAGES = "/usr/lib/python3/dist-packages"

sys.modules["awscrt"] = None

try:
    import pytest
except ImportError:
    sys.path.append(DEBIAN_PACKAGES)
    import pytest

sys.exit(pytest.main(sys.argv[1:]))
