"""Learning from the site's own logs: offline evaluation, training data and learned rankers.

- :mod:`~newsrec.learning.metrics`: AUC, MRR, nDCG@k per impression (MIND's definitions) and
  beyond-accuracy figures (intra-list diversity, catalogue coverage, novelty);
- :mod:`~newsrec.learning.replay`: MIND-format logs (and NeMig's) replayed in memory through the
  product's own importer, embedder, profile fold, reader state and ranker, never the live catalogue;
- :mod:`~newsrec.learning.model`: LightGBM lambdarank models over the engine's signals;
- :mod:`~newsrec.learning.training`: point-in-time training sets from stored impressions and
  clicks, validation on a later slice, promotion, the registry of model versions.
"""
