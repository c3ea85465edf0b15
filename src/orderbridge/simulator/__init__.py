"""The SP-API sandbox: a local stand-in for Amazon's Selling Partner API."""

from orderbridge.simulator.app import Sandbox, create_app

__all__ = ["Sandbox", "create_app"]
