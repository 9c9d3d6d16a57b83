"""EngineError and its children: every message says what failed and what to do next."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose; ``code`` is stable for tests and UIs."""

    code = "engine_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(EngineError, ValueError):
    """A setting is missing or malformed."""

    code = "config_error"


class InputError(EngineError, ValueError):
    """A file, form or argument given by a user cannot be used as it is."""

    code = "input_error"


class NotFoundError(EngineError, LookupError):
    """A batch, version or other record asked for does not exist."""

    code = "not_found"


class StateError(EngineError, RuntimeError):
    """The action is not allowed in the record's current state (e.g. a gate refused it)."""

    code = "state_error"


class IntegrityError(EngineError, RuntimeError):
    """Stored data or an artifact does not match what the registry recorded."""

    code = "integrity_error"
