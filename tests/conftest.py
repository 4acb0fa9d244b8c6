"""Shared by every test suite.

Many test modules build one expensive environment per module (a simulator, a whole DR set) and share it among their
tests, so under pytest-xdist each test file runs on one worker (the scheduler pytest-xdist calls ``loadfile``),
never split across two that would each build the environment.

The machine has one CloudHSM client host, /opt/cloudhsm.

Test modules that install the simulated client packages there and configure them hold an exclusive lock for the
whole module, so pytest-xdist workers (and other test runs on the machine) never install, configure or use the
client at the same time. Such modules are those marked ``client_host`` and those that drive ``scripts/demo.py``
(its DemoRun resets and installs the client), such as tests/e2e.
"""

import fcntl
import os
import sys
import tempfile

import pytest

CLIENT_HOST_LOCK = os.path.join(tempfile.gettempdir(), "hsmops-cloudhsm-client-host.lock")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "client_host: installs and configures the CloudHSM client in /opt/cloudhsm (one module at a time)")


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
    with open(CLIENT_HOST_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
