"""Turn the demo's ``articles.jsonl`` into article rows with times relative to a stable anchor.

The file stores publication times as offsets (``published_ago_hours``, ``embargo_in_hours``) so
the demo always looks fresh. The anchor they are counted from is kept stable between loads, so
that reloading does not rewrite every row (the content hash covers ``published_at``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DEMO_ARTICLES = Path(__file__).resolve().parent / "articles.jsonl"
REANCHOR_AFTER = timedelta(days=3)  # older than this, the demo is re-dated to look fresh again
OFFSET_FIELDS = ("published_ago_hours", "embargo_in_hours")


class DemoDataError(ValueError):
    """The demo file is missing or malformed; the message names the file and line."""


def read_demo_file(path: Path) -> list[dict[str, Any]]:
    """Read the JSONL rows, checking only the demo-specific offset fields."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DemoDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DemoDataError(f"{path} is not UTF-8 text") from exc
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DemoDataError(f"{path.name}:{number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DemoDataError(f"{path.name}:{number}: each line must be a JSON object")
        for name in OFFSET_FIELDS:
            value = row.get(name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise DemoDataError(f"{path.name}:{number}: {name} must be a non-negative number")
        rows.append(row)
    return rows


def fresh_anchor(now: datetime) -> datetime:
    """The anchor for a first (or stale) load: now, rounded down to the hour."""
    return now.replace(minute=0, second=0, microsecond=0)


def choose_anchor(
    rows: list[dict[str, Any]], *, now: datetime, stored: Mapping[str, datetime | None]
) -> tuple[datetime, bool]:
    """Reuse the anchor of an earlier load if it is recent, else start afresh.

    ``stored`` maps external ids to the ``published_at`` already in the database. The earlier
    anchor is derived back from the first dated row: stored time + its offset. Returns the
    anchor and whether it was reused.
    """
    for row in rows:
        hours = row.get("published_ago_hours")
        published_at = stored.get(str(row.get("external_id")))
        if hours is None or published_at is None:
            continue
        anchor = published_at + timedelta(hours=hours)
        if now - REANCHOR_AFTER <= anchor <= now + timedelta(minutes=1):
            return anchor, True
        break
    return fresh_anchor(now), False


def reference_ids(rows: list[dict[str, Any]]) -> list[str]:
    """External ids whose stored time ``choose_anchor`` may need (the first dated row)."""
    for row in rows:
        if row.get("published_ago_hours") is not None:
            return [str(row.get("external_id"))]
    return []


def dated_rows(rows: list[dict[str, Any]], *, anchor: datetime) -> list[dict[str, Any]]:
    """Rows in the shape ``validate_article`` expects, with absolute times from ``anchor``.

    An embargoed row goes out when its embargo lifts, so both times are set to that moment.
    """
    result = []
    for raw in rows:
        row = {k: v for k, v in raw.items() if k not in OFFSET_FIELDS}
        if raw.get("embargo_in_hours") is not None:
            lifts = anchor + timedelta(hours=raw["embargo_in_hours"])
            row["embargo_until"] = row["published_at"] = lifts
        elif raw.get("published_ago_hours") is not None:
            row["published_at"] = anchor - timedelta(hours=raw["published_ago_hours"])
        result.append(row)
    return result
