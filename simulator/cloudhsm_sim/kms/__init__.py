"""KMS custom key stores of type AWS_CLOUDHSM on the simulated CloudHSM clusters (moto's KMS has none).

Call ``install()`` once in the process that serves the API (next to ``cloudhsm_sim.controlplane.install()``). It adds
CreateCustomKeyStore, ConnectCustomKeyStore, DisconnectCustomKeyStore, UpdateCustomKeyStore, DeleteCustomKeyStore
and DescribeCustomKeyStores, and CreateKey with Origin AWS_CLOUDHSM on a connected store. Cluster facts come from
the simulated control plane, ``kmsuser`` and backing keys from the simulated HSMs.
"""

from .install import install, installed
from .stores import STORE_QUOTA, get_delays, reset_delays, set_delays

__all__ = ["install", "installed", "set_delays", "get_delays", "reset_delays", "STORE_QUOTA"]
