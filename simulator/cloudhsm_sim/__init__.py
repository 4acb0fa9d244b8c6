"""A local simulator of AWS CloudHSM: control plane (cloudhsmv2 API on moto), HSMs and client tools."""

__version__ = "0.2.0"
