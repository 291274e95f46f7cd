"""Experiments with a holdout: assignment, the "recommendations off" feed, results and stats."""
