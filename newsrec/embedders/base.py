"""Base class for embedders: override ``embed`` and ``dimensions``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Embedder:
    """Turns texts into fixed-width float vectors (L2-normalised for cosine search)."""

    def __init__(self, *, model: str | None = None) -> None:
        self.model_name = model

    @property
    def dimensions(self) -> int:
        raise NotImplementedError(".dimensions must be overridden")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimensions)."""
        raise NotImplementedError(".embed() must be overridden")
