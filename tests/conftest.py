"""Shared by every test suite.

Many test modules build one expensive environment per module (a simulator, a whole DR set) and share it among their
tests, so under pytest-xdist each test file runs on one worker (the scheduler pytest-xdist calls ``loadfile``),
never split across two that would each build the environment.

The machine has one CloudHSM client host, /opt/cloudhsm.

Test modules that install the simulated client packages there and configure them hold the machine's client lock
(scripts/with_simulator.py ``lock_client``) for the whole module, so pytest-xdist workers and other test runs on the
machine (another lane of ``make test``, molecule) never install, configure or use the client at the same time. Such
modules are those marked ``client_host`` and those that drive ``scripts/demo.py`` (its DemoRun resets and installs
the client), such as tests/e2e. The lock is one file and re-entrant within a process, so the demo runs inside such a
module take it again without waiting, and no two runs can wait on each other in a circle. Under
scripts/private_client_host.py (``make pytests`` runs the ``client_host`` modules so) /opt, the package database and
the lock are the run's own, so those modules wait for nothing outside.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import with_simulator  # noqa: E402  (the lock every user of the client takes)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "client_host: installs and configures the CloudHSM client in /opt/cloudhsm (one module at a time)")
    config.addinivalue_line(
        "markers", "for_sdks(*sdks): the client SDKs (\"3\", \"5\") whose DR flow a test of tests/e2e runs on")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadFileScheduling

    return LoadFileScheduling(config, log)


def uses_client_host(module_node, module):
    if module_node.get_closest_marker("client_host") is not None:
        return True
    demo = sys.modules.get("demo")
    return demo is not None and any(value is demo for value in vars(module).values())


@pytest.fixture(scope="module", autouse=True)
def client_host_lock(request):
    if not uses_client_host(request.node, request.module):
        yield
        return
    hold = with_simulator.lock_client(lambda text: sys.stderr.write(text + "\n"))
    try:
        yield
    finally:
        hold.close()
