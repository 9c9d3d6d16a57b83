"""Database layer: table definitions, engines and sessions, and the per-dialect bulk path."""
