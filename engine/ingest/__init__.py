"""Ingestion: sources, pandera contracts, and the stage-validate-promote pipeline."""
