"""Roll reader events up into the analytics page's hourly rows now (the beat tasks do it on
their own: the last hours every five minutes, the retention window daily)."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from editorial.analytics import analytics_rollup
from newsrec.conf import newsrec_settings


class Command(BaseCommand):
    help = (
        "Recompute the editors' analytics hourly rows of the last --days days (default: the "
        "whole event retention window), a day at a time; running it twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="How many days back.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = int(float(newsrec_settings.EVENTS_MAX_AGE_DAYS)) + 1
        if days < 1 or days > 3660:
            raise CommandError("--days must be between 1 and 3660.")
        # whole hours, so that no hour is rolled up (and counted) by two chunks
        now = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        rows = 0
        with tqdm(total=days, unit="day", desc="Rolling up", file=sys.stderr) as bar:
            for back in range(days, 0, -1):
                end = now - timedelta(days=back - 1)
                rows += analytics_rollup(start=end - timedelta(days=1), end=end)
                bar.update()
        self.stdout.write(f"{rows} hourly article rows over the last {days} days.")
