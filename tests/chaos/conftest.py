"""Fault tests: the fast subset by default, every fault and interruption point with --chaos-full (make chaos).

The whole session holds the client-host lock of tests/conftest.py (the simulated client is installed in
/opt/cloudhsm), so run these tests in one process (no -n). Each test records the faults it tried and what came of
them; with --chaos-full (or --chaos-results PATH) the table is written to tests/chaos/RESULTS.md of the source tree.
"""

import datetime
import fcntl
import os
import re
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from chaos_helpers import ChaosRun  # noqa: E402

BUILD_TREE_SUFFIX = os.path.join("build", "collections", "ansible_collections", "hsmops", "cloudhsm")


def pytest_addoption(parser):
    parser.addoption("--chaos-full", action="store_true", default=False,
                     help="every interruption point and fault combination (make chaos), not only the fast subset")
    parser.addoption("--chaos-results", default=None,
                     help="where to write the table of faults and outcomes (default with --chaos-full: "
                          "tests/chaos/RESULTS.md of the source tree)")


def source_tree_results():
    """tests/chaos/RESULTS.md of the repository, also when the tests run from the build-tree copy."""
    root = os.path.dirname(os.path.dirname(HERE))
    if root.endswith(BUILD_TREE_SUFFIX):
        root = root[: -len(BUILD_TREE_SUFFIX)].rstrip(os.sep)
    return os.path.join(root, "tests", "chaos", "RESULTS.md")


class Results:
    def __init__(self, full):
        self.full = full
        self.rows = []

    def add(self, fault, injected, expected, outcome, seconds):
        self.rows.append((fault, injected, expected, outcome, "%.0f" % seconds))

    def markdown(self):
        lines = [
            "# Fault tests: what was tried and what came of it",
            "",
            "Written by `%s` on %s (%s)." % (
                "make chaos" if self.full else "pytest tests/chaos",
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "every fault and interruption point" if self.full else "fast subset"),
            "",
            "| fault | injected | expected | outcome | seconds |",
            "|---|---|---|---|---|",
        ]
        for row in self.rows:
            lines.append("| " + " | ".join(re.sub(r"\s+", " ", str(cell)).replace("|", "\\|") for cell in row) + " |")
        return "\n".join(lines) + "\n"


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos_full: part of the full matrix only (--chaos-full, make chaos)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--chaos-full"):
        return
    deselected = [item for item in items if item.get_closest_marker("chaos_full")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("chaos_full")]


@pytest.fixture(scope="session")
def chaos_full(request):
    return request.config.getoption("--chaos-full")


@pytest.fixture(scope="session")
def results(request, chaos_full):
    table = Results(chaos_full)
    yield table
    path = request.config.getoption("--chaos-results") or (source_tree_results() if chaos_full else None)
    if path and table.rows:
        with open(path, "w") as handle:
            handle.write(table.markdown())


@pytest.fixture(scope="session", autouse=True)
def client_host():
    """The machine's one CloudHSM client (/opt/cloudhsm), for the whole session."""
    lock_path = os.path.join(tempfile.gettempdir(), "hsmops-cloudhsm-client-host.lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def fresh_run(tmp_path):
    """A new simulator with the network made, the client package built and the secrets written."""
    run = ChaosRun(str(tmp_path / "run"))
    try:
        yield run.setup()
    finally:
        run.stop_simulator()
