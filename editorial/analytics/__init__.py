"""Editors' analytics: reader events rolled up per hour (per article, surface and slot, and per
slot and section), figures per rule, "did my rule help?", and charts of them.

``rollup`` writes the hourly rows (a beat task, idempotent); ``figures`` and ``rules`` read
them; ``charts`` draws them as SVG. The page load never scans the raw events.
"""

from __future__ import annotations

from editorial.analytics.figures import (
    Figures,
    Marker,
    Point,
    analytics_by_article,
    analytics_by_section,
    analytics_by_slot,
    analytics_by_surface,
    analytics_markers,
    analytics_series,
    analytics_surfaces,
    dwell_median,
)
from editorial.analytics.rollup import RECENT_HOURS, analytics_rollup, analytics_rollup_recent
from editorial.analytics.rules import (
    Impact,
    RuleTarget,
    live_rule_targets,
    rule_figures,
    rule_rows,
    ruleset_impact,
)

__all__ = [
    "RECENT_HOURS", "Figures", "Impact", "Marker", "Point", "RuleTarget", "analytics_by_article",
    "analytics_by_section", "analytics_by_slot", "analytics_by_surface", "analytics_markers",
    "analytics_rollup", "analytics_rollup_recent", "analytics_series", "analytics_surfaces",
    "dwell_median", "live_rule_targets", "rule_figures", "rule_rows", "ruleset_impact",
]  # fmt: skip
