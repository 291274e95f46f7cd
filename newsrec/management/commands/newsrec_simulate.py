"""Simulate seeded synthetic readers reading the live catalogue through the real paths."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from newsrec import simulation
from newsrec.conf import newsrec_settings


class Command(BaseCommand):
    help = (
        "Simulate READERS synthetic readers over the last DAYS days (at most EVENTS_MAX_AGE_DAYS, "
        "ending now): they read their feeds as the site serves them, send events through the "
        "events ingestion, and their profiles and feeds are rebuilt at the end of each simulated "
        "day. Deterministic for a --seed and a given catalogue. Simulated readers have a client "
        "id starting with 'sim:'; no other reader is read or changed, but their events count in "
        "trending, 'readers also read' and experiment results: for demo and staging sites."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--readers", type=int, default=200, help="how many (default 200)")
        parser.add_argument("--days", type=int, default=3, help="simulated days (default 3)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument(
            "--purge",
            action="store_true",
            help="first delete every simulated reader with their events (--readers 0: only that)",
        )
        parser.add_argument(
            "--if-none",
            action="store_true",
            help="do nothing when simulated readers exist already (the demo's first start)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        readers, days = int(options["readers"]), int(options["days"])
        max_days = int(float(newsrec_settings.EVENTS_MAX_AGE_DAYS))
        if readers < 0:
            raise CommandError("--readers cannot be negative.")
        if readers and not 1 <= days <= max_days:
            raise CommandError(
                f"--days must be between 1 and {max_days}: older events are refused."
            )
        if options["if_none"] and simulation.simulated_readers().exists():
            self.stdout.write("Simulated readers exist already; nothing simulated.")
            return
        if options["purge"]:
            count, events = simulation.simulated_readers_purge()
            self.stdout.write(f"Purged {count} simulated reader(s) and their {events} event(s).")
        if not readers:
            return
        show = int(options["verbosity"]) > 0
        with tqdm(total=readers * days, unit="reader-day", desc="Simulating", file=sys.stderr,
                  disable=not show) as bar:  # fmt: skip
            report = simulation.simulation_run(
                readers=readers, days=days, seed=int(options["seed"]), progress=bar.update
            )
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.kinds.items()))
        self.stdout.write(
            f"Simulated {report.readers} readers over {report.days} days in "
            f"{report.seconds:.1f} s: {report.visits} visits, {report.lapsed} lapsed; "
            f"{report.sent} events sent, {report.accepted} accepted ({kinds or 'none'}), "
            f"{report.duplicate} duplicate, {report.rejected} rejected."
        )
        for rejection in report.rejections:
            self.stderr.write(f"  rejected {rejection.get('event_id')}: {rejection['reasons']}")
