"""Training: pipelines per model family, honest evaluation, the safety threshold."""
