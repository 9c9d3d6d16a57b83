"""Tests of engine.training: pipelines, metrics, evaluation, safety threshold, fast predictor."""
