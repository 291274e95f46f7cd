"""Pluggable text embedders; ``get_embedder()`` gives the configured one, once per process."""

from __future__ import annotations

from functools import lru_cache

from newsrec.conf import newsrec_settings
from newsrec.embedders.base import Embedder


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    embedder_class = newsrec_settings.EMBEDDER
    return embedder_class(model=newsrec_settings.EMBEDDING_MODEL)


__all__ = ["Embedder", "get_embedder"]
