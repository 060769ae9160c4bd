"""Chain mode: many boxes, one member base (the event log, the relay, the hub's ingest).

Importing this package loads no NATS client: only the relay and the hub need one.
"""

from .events import EVENT_SCHEMA, box_id, record_chain_event

__all__ = ["EVENT_SCHEMA", "box_id", "record_chain_event"]
