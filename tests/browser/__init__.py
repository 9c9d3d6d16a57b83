"""Browser smoke tests: the real app in headless Chromium."""
