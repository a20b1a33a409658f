"""Adapters to the outside world, one file per vendor, resolved by spec strings (see `registry`).

Importing this package loads no vendor SDK, torch or diffusers.
"""

from providers.registry import parse_spec, resolve

__all__ = ["parse_spec", "resolve"]
