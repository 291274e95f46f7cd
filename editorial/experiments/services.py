"""Writes of experiments: start and stop, each checked and in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from editorial.experiments.selectors import running_memo_clear
from editorial.models import Experiment, ExperimentStatus, VariantKind

RUN_PERMISSION = "editorial.run_experiment"


def _require_runner(user: Any) -> None:
    if user is not None and not user.has_perm(RUN_PERMISSION):
        raise PermissionDenied("You need the permission to start and stop experiments.")


def experiment_problems(*, experiment: Experiment) -> list[str]:
    """Why the experiment cannot start, in editors' words; empty when it can."""
    problems = []
    if experiment.status != ExperimentStatus.DRAFT:
        problems.append(
            f"It is {experiment.get_status_display().lower()}: only a draft can start "
            "(copy a stopped experiment into a new one to run it again)."
        )
    variants = list(experiment.variants.all())
    kinds = {v.kind for v in variants}
    if VariantKind.HOLDOUT not in kinds and VariantKind.NO_NUDGES not in kinds:
        problems.append("Add a holdout variant: it measures what recommendations are worth.")
    if VariantKind.PERSONALISED not in kinds:
        problems.append("Add a personalised variant to compare with the holdout.")
    if any(v.weight < 1 for v in variants):
        problems.append("Every variant needs a weight of at least 1.")
    running = Experiment.objects.filter(status=ExperimentStatus.RUNNING).exclude(pk=experiment.pk)
    for other in running:
        problems.append(f"“{other}” is running: stop it first (one experiment at a time).")
    return problems


@transaction.atomic
def experiment_start(*, experiment: Experiment, user: Any = None) -> Experiment:
    """Start a draft: from now on its readers are split between its variants."""
    _require_runner(user)
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    problems = experiment_problems(experiment=locked)
    if problems:
        raise ValidationError(problems)
    locked.status = ExperimentStatus.RUNNING
    locked.started_at = timezone.now()
    locked.started_by = user if getattr(user, "pk", None) else None
    try:
        with transaction.atomic():
            locked.save(update_fields=["status", "started_at", "started_by", "modified"])
    except IntegrityError:  # another start won the race for "one running experiment"
        raise ValidationError("Another experiment started meanwhile: stop it first.") from None
    transaction.on_commit(running_memo_clear)
    running_memo_clear()
    return locked


@transaction.atomic
def experiment_stop(*, experiment: Experiment, user: Any = None) -> Experiment:
    """Stop a running experiment: every reader gets the normal feed again; results are final."""
    _require_runner(user)
    locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if locked.status != ExperimentStatus.RUNNING:
        raise ValidationError(f"“{locked}” is not running.")
    locked.status = ExperimentStatus.STOPPED
    locked.stopped_at = timezone.now()
    locked.stopped_by = user if getattr(user, "pk", None) else None
    locked.save(update_fields=["status", "stopped_at", "stopped_by", "modified"])
    transaction.on_commit(running_memo_clear)
    running_memo_clear()
    return locked
