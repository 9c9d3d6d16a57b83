"""Headless core of the mushroom classification system: ingest, train, serve, monitor."""
