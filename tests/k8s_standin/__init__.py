"""A loopback stand-in for the Kubernetes API server (test code; see server.py)."""

from tests.k8s_standin.server import KubernetesStandIn, schema_errors

__all__ = ["KubernetesStandIn", "schema_errors"]
