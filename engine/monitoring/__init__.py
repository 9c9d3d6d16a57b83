"""Monitoring: drift tests, performance tracking, alerts and reports (a later issue)."""
