"""A local HTTP server speaking the 360Learning API v1 and v2 for a synthetic, deterministic
company: the demo, test and benchmark target of the learning360 pipeline (no network needed)."""

from .company import Company
from .server import EmulatorServer

__all__ = ["Company", "EmulatorServer"]
