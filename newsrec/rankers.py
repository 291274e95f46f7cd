"""The ranker the site uses, as configured: ``NEWSREC["RANKER"]`` and ``["CANDIDATE_SOURCES"]``.

Every place that ranks for readers builds it here (feed rebuilds, the editors' preview, the
learned ranker's training and offline evaluation), so that a host's own ranker class (a
:class:`~newsrec.engine.ranker.Ranker` subclass overriding one step) or its own candidate
sources take part everywhere, and training sees the features serving computes.
"""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from newsrec.conf import newsrec_settings
from newsrec.engine.ranker import Ranker
from newsrec.engine.sources import CandidateSource


def candidate_sources() -> list[CandidateSource] | None:
    """The configured sources, one instance each; None: the engine's ``default_sources()``."""
    paths = newsrec_settings.CANDIDATE_SOURCES
    if paths is None:
        return None
    return [import_string(path)() for path in paths]


def ranker_build(*, model: Any = None) -> Ranker:
    """A ranker of the configured class and sources; with ``model``, the learned model scores."""
    ranker_class: type[Ranker] = newsrec_settings.RANKER
    return ranker_class(sources=candidate_sources(), model=model)
