"""Check stored feeds and the pages readers see against the live rules; exit 1 on violations."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from editorial.compliance import feeds_check


class Command(BaseCommand):
    help = (
        "Read the front page, section pages, article pages, the feed, rails and related API "
        "and the newsrec_feed template tag as a sample of readers sees them, and every stored "
        "feed built under the live rules, and report each article shown against a rule "
        "(blocklists, max age, caps, pins by scope), naming the rule. Exits with status 1 when "
        "there is a violation, so monitoring can run it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sample", type=int, default=20,
            help="readers to read pages for, most recently seen first (default 20)",
        )  # fmt: skip
        parser.add_argument(
            "--sections", type=int, default=5, help="section pages to read (default 5)"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        sample, sections = options["sample"], options["sections"]
        if not 0 <= sample <= 10_000 or not 0 <= sections <= 1_000:
            raise CommandError("--sample is 0 to 10,000 readers and --sections 0 to 1,000.")
        report = feeds_check(sample=sample, sections=sections)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok, "surfaces": report.surfaces, "feeds": report.feeds,
                        "stale_feeds": report.stale_feeds,
                        "violations": [v.__dict__ for v in report.violations],
                    },
                    indent=2,
                )
            )  # fmt: skip
        else:
            for violation in report.violations:
                self.stdout.write(str(violation))
            self.stdout.write(
                f"{len(report.violations)} violations on {report.surfaces} surfaces read; "
                f"{report.feeds} stored feeds checked ({report.stale_feeds} built under older "
                "rules await their rebuild; pages filter them meanwhile)."
            )
        if not report.ok:
            raise SystemExit(1)
