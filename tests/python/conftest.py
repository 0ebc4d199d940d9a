"""Shared fixtures: where the aistack tool and the shared conformance data are."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _find_tool():
    env = os.environ.get("AIS_AISTACK")
    if env:
        return env
    for build in ("build", "build-release"):
        p = os.path.join(ROOT, build, "examples", "aistack")
        if os.path.exists(p):
            return p
    return shutil.which("aistack")


@pytest.fixture(scope="session")
def aistack():
    if os.environ.get("AIS_AISTACK_OFF"):  # configured without the tool (tests/CMakeLists.txt)
        pytest.skip(f"the aistack tool is not built ({os.environ['AIS_AISTACK_OFF']})")
    tool = _find_tool()
    if not tool or not os.path.exists(tool):
        pytest.fail("the aistack tool was not found: build it, or set AIS_AISTACK")

    def run(*args, check=True):
        p = subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise AssertionError(f"aistack {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run


@pytest.fixture(scope="session")
def tool():
    """The aistack program's path, for tests that start it themselves (`aistack serve`)."""
    t = _find_tool()
    if not t or not os.path.exists(t):
        pytest.fail("the aistack tool was not found: build it, or set AIS_AISTACK")
    return t
