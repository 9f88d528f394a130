"""The Flamenco job type (scripts/flamenco/brushwork-stylize.js), tested by node's own runner.

The job compiler is JavaScript that Flamenco Manager runs; its tests load it against a small
stand-in of the Manager's API (scripts/flamenco/test/flamenco_stub.mjs). Node.js is required:
without it this test fails rather than skipping, so a CI image without node can't pass silently.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_TESTS = ROOT / "scripts" / "flamenco" / "test"


def test_flamenco_job_compiler_passes_its_node_tests():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to test scripts/flamenco/ ('node' is not on PATH): install Node.js 18 or newer")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = re.match(r"v(\d+)", version)
    assert major and int(major.group(1)) >= 18, f"node --test needs Node.js 18 or newer, found {version!r}"
    # Test files by name, not the folder: the folder form differs between node versions and
    # would also count the stub module as a test file.
    files = sorted(str(p.relative_to(ROOT)) for p in NODE_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {NODE_TESTS}"
    done = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (f"node --test {' '.join(files)} exited {done.returncode} ({version}):\n"
                                  f"{done.stdout}\n{done.stderr}")
