"""The upstream gateway: the part of a mirror that talks to the upstream registry.

Distribution's `proxy.remoteurl` points at the gateway, and the gateway talks
to the real upstream. It merges identical requests in flight into one upstream
request whose body every waiter streams from a spool file, verifies digests,
performs the upstream token dance, answers tag lookups from a known-tags store
while the upstream is down or rate-limited, and exposes Prometheus metrics.
docs/gateway.md describes it for operators.
"""

from main.gateway.config import (
    Credentials,
    GatewayConfig,
    load_credentials,
    prepare_folder,
)
from main.gateway.runner import GatewayServer, run_gateway
from main.gateway.service import Gateway

__all__ = [
    "Credentials",
    "Gateway",
    "GatewayConfig",
    "GatewayServer",
    "load_credentials",
    "prepare_folder",
    "run_gateway",
]
