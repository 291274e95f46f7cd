"""The one exception the engine raises for bad input."""

from __future__ import annotations


class EngineInputError(ValueError):
    """Input the engine cannot rank with (the message says what to fix)."""
