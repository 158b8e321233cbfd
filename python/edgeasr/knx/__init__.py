"""KNX/IP link for EdgeASR: queue, send and track group telegrams through xknx.

See docs/knx.md for connecting to a real IP interface or router.
"""

from edgeasr.knx.gateway import (
    ConnectionKind,
    Delivery,
    KnxConfig,
    KnxConfigError,
    KnxGateway,
    KnxSecure,
    Outcome,
    connection_config,
    dpts_from_building,
)
from edgeasr.knx.state import GroupState, StateStore

__all__ = [
    "ConnectionKind",
    "Delivery",
    "GroupState",
    "KnxConfig",
    "KnxConfigError",
    "KnxGateway",
    "KnxSecure",
    "Outcome",
    "StateStore",
    "connection_config",
    "dpts_from_building",
]
