"""Writes of the editors' app."""

from __future__ import annotations


def rules_fanout_enqueue() -> None:
    """Queue the rebuild of every feed after a rules change (chunked by the feeds task)."""
    from newsrec.tasks import feeds_rebuild_all

    feeds_rebuild_all.delay()
