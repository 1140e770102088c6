"""Honest evaluation: metrics beside the market's, walk-forward in time."""
