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
    row = (
        RankerModel.objects.filter(status=RankerModelStatus.ACTIVE)
        .values_list("pk", "feature_names", "prefilter")
        .first()
    )
    pk = row[0] if row else None
    cached_pk, model = _served.get("active", (None, None))
    if pk != cached_pk or (pk is not None and model is None):
        model = None
        if row is not None and pk is not None:
            text = RankerModel.objects.values_list("model_text", flat=True).get(pk=pk)
            try:
                model = LightGBMRanker.from_text(text, row[1], row[2])
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
