"""The demo's first start: simulated readers inside an on/off experiment, so that the
experiments page shows what recommendations are worth. Never for a real site's readers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from editorial.experiments import services
from editorial.models import Experiment, Variant, VariantKind
from newsrec import simulation

NAME = "Demo: recommendations on vs off"


class Command(BaseCommand):
    help = (
        "Demo sites only: when no simulated readers exist yet, run a personalised vs holdout "
        "experiment while newsrec_simulate's readers read for --days, then stop it, so its "
        "results page has figures. The site then serves every reader normally."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--readers", type=int, default=60)
        parser.add_argument("--days", type=int, default=3)

    def handle(self, *args: Any, **options: Any) -> None:
        days = int(options["days"])
        if simulation.simulated_readers().exists() or Experiment.objects.filter(name=NAME).exists():
            self.stdout.write("The demo's readers and experiment exist already.")
            return
        if Experiment.objects.filter(status="running").exists():  # a real one: simulate only
            call_command("newsrec_simulate", readers=options["readers"], days=days)
            call_command("editorial_analytics_rollup", days=days + 1)
            return
        experiment = Experiment.objects.create(
            name=NAME, description="Simulated readers of the demo: half get no recommendations."
        )
        Variant.objects.create(experiment=experiment, name="personalised", weight=50)
        Variant.objects.create(
            experiment=experiment, name="holdout", kind=VariantKind.HOLDOUT, weight=50
        )
        services.experiment_start(experiment=experiment)
        # the simulated days end now: the experiment ran through all of them
        Experiment.objects.filter(pk=experiment.pk).update(
            started_at=timezone.now() - timedelta(days=days, minutes=1)
        )
        try:
            call_command("newsrec_simulate", readers=options["readers"], days=days)
        finally:
            experiment.refresh_from_db()
            services.experiment_stop(experiment=experiment)
        # the analytics page shows the simulated days at once, not after the daily roll-up
        call_command("editorial_analytics_rollup", days=days + 1)
        self.stdout.write(f"Experiment “{NAME}” ran through the simulated days and is stopped.")
