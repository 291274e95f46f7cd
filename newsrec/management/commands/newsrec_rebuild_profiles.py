"""Recompute reader profiles from their events: `newsrec_rebuild_profiles [--reader UUID ...]`."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from newsrec.models import Reader
from newsrec.profiles import profiles_rebuild_all


class Command(BaseCommand):
    help = (
        "Recompute profiles from stored events (the source of truth). Without --reader, every "
        "reader is rebuilt; readers with personalisation off have their profile removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reader", action="append", default=[], metavar="UUID", help="only this reader"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        readers = Reader.objects.order_by("pk")
        if options["reader"]:
            try:
                wanted = [uuid.UUID(value) for value in options["reader"]]
            except ValueError as exc:
                raise CommandError(f"--reader takes a reader's public UUID ({exc}).") from exc
            readers = readers.filter(public_id__in=wanted)
            if readers.count() != len(set(wanted)):
                raise CommandError("Some --reader ids are unknown.")
        ids = list(readers.values_list("pk", flat=True))
        with tqdm(
            total=len(ids), unit="reader", desc="Profiles", disable=options["verbosity"] == 0
        ) as bar:
            for _ in profiles_rebuild_all(reader_ids=ids):
                bar.update(1)
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {len(ids)} reader profile(s)."))
