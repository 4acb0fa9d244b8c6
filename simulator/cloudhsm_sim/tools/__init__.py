"""The emulated AWS CloudHSM client tools (standard library only; installed as ``cloudhsm_tools`` by the packages)."""
