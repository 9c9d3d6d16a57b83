"""The APScheduler process: recurring ingestion and checks (filled by a later issue)."""
