"""Training: time-ordered splits, the fitting pipeline, artifacts and metadata."""
