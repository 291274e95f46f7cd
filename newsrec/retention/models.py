"""Retention models: churn-model versions with their metrics, and each reader's risk band.

Imported by ``newsrec.models`` so that they belong to the newsrec app.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class RiskBand(models.TextChoices):
    LOW = "low", "Low"
    RISING = "rising", "Rising"
    HIGH = "high", "High"


BAND_RANK = {RiskBand.LOW: 0, RiskBand.RISING: 1, RiskBand.HIGH: 2}


class ChurnModelKind(models.TextChoices):
    LOGISTIC = "logistic", "Logistic regression, Platt-calibrated"
    HEURISTIC = "heuristic", "Heuristic (too little history to train)"


class ChurnModel(models.Model):
    """One training run of the churn model; the newest one scores readers.

    ``metrics`` are measured on the latest slice of time, which neither fitting nor calibration
    saw: AUC, recency alone's AUC, Brier score, base rate and reliability bins.
    """

    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=ChurnModelKind.choices)
    horizon_days = models.PositiveSmallIntegerField()
    window_days = models.PositiveSmallIntegerField()
    feature_names = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)  # see retention.model.ChurnParams
    metrics = models.JSONField(default=dict, blank=True)
    training = models.JSONField(default=dict, blank=True)  # sizes of each slice, time span
    verdict = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "churn model version"

    def __str__(self) -> str:
        return f"churn model v{self.pk} ({self.kind})"


class ReaderRiskQuerySet(models.QuerySet["ReaderRisk"]):
    """Domain verbs for risk lookups."""

    def personalised(self) -> ReaderRiskQuerySet:
        """Readers who have not opted out of personalisation."""
        return self.filter(reader__personalisation_enabled=True)

    def rose_since(self, moment: object) -> ReaderRiskQuerySet:
        """Readers now rising or high whose band went up at ``moment`` or later."""
        return self.filter(
            band__in=[RiskBand.RISING, RiskBand.HIGH], rose_at__isnull=False, rose_at__gte=moment
        )


class ReaderRisk(models.Model):
    """A reader's latest churn risk: calibrated probability, band, and reasons in words."""

    reader = models.OneToOneField(
        "newsrec.Reader", on_delete=models.CASCADE, primary_key=True, related_name="risk"
    )
    probability = models.FloatField(help_text="Chance of no return within the horizon.")
    band = models.CharField(max_length=8, choices=RiskBand.choices, db_index=True)
    previous_band = models.CharField(max_length=8, choices=RiskBand.choices, blank=True)
    band_since = models.DateTimeField(help_text="When the reader entered this band.")
    rose_at = models.DateTimeField(
        null=True, blank=True, help_text="When the band last went up; cleared when it falls."
    )
    reasons = models.JSONField(default=list, blank=True)  # ["Not back for 9 days", ...]
    computed_at = models.DateTimeField()
    model = models.ForeignKey(
        ChurnModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ReaderRiskQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["rose_at"], name="newsrec_risk_rose_at")]
        verbose_name = "reader risk"

    def __str__(self) -> str:
        return f"risk of {self.reader_id}: {self.band}"


class RiskBandCount(models.Model):
    """How many readers were in one band after one scoring run: the editors' "over time" view.

    Counts only, no reader: written by ``reader_risks_refresh`` (hourly), one row per band.
    """

    at = models.DateTimeField(help_text="The scoring run.")
    band = models.CharField(max_length=8, choices=RiskBand.choices)
    readers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["at", "band"], name="newsrec_bandcount_at_band")
        ]
        indexes = [models.Index(fields=["at"], name="newsrec_bandcount_at")]
        verbose_name = "readers per risk band"

    def __str__(self) -> str:
        return f"{self.readers} {self.band} at {self.at:%Y-%m-%d %H:%M}"
