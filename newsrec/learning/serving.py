"""The learned ranker that feed builds serve: the active version, loaded once per process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from newsrec.conf import newsrec_settings
from newsrec.learning.model import LightGBMRanker
from newsrec.models import RankerModel, RankerModelStatus

log = logging.getLogger(__name__)


_served: dict[str, tuple[int | None, LightGBMRanker | None]] = {}


def serving_model() -> LightGBMRanker | None:
    """The active learned ranker (loaded once per version and process), or None for the
    hand-weighted formula; one indexed query per call."""
    if not newsrec_settings.RANKER_LEARNED:
        return None
    # the id alone: the model's columns are read only when another version became active
    pk = (
        RankerModel.objects.filter(status=RankerModelStatus.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )
    cached_pk, model = _served.get("active", (None, None))
    if pk != cached_pk or (pk is not None and model is None):
        model = None
        row = (
            RankerModel.objects.filter(pk=pk)
            .values_list("model_text", "feature_names", "prefilter")
            .first()
            if pk is not None
            else None
        )
        if row is not None:
            try:
                model = LightGBMRanker.from_text(*row)
            except Exception:  # a damaged model must never stop feeds: hand weights serve
                log.exception("learned ranker v%s cannot be loaded; using hand weights", pk)
        _served["active"] = (pk, model)
    return model


def readers_on_hand_weights(reader_ids: Sequence[int]) -> set[int]:
    """Readers whose feeds an experiment keeps on the hand weights (the experiments
    provider's "learned vs hand-weighted" arms)."""
    from newsrec.providers import experiments_provider

    if not reader_ids:
        return set()
    return set(experiments_provider().readers_on_hand_weights(reader_ids))


def serving_clear() -> None:
    _served.clear()
