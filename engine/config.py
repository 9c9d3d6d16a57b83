"""One Settings object, read once from the environment (and an optional .env file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
INVALID_ROW_POLICIES = ("reject", "quarantine")


@dataclass(frozen=True)
class Settings:
    """Every setting of the engine; build with :func:`load_settings` or :func:`get_settings`."""

    data_dir: Path
    staging_database_url: str
    production_database_url: str
    artifact_dir: Path
    inbox_dir: Path
    upload_max_mb: int = 200
    invalid_row_policy: str = "reject"
    environment: str = "development"
    max_false_edible_rate: float = 0.01
    production_gate_max_false_edible: float = 0.01
    safety_calibration: str = "empirical"
    user: str = "system"
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def upload_max_bytes(self) -> int:
        return self.upload_max_mb * 1024 * 1024


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _int(env: dict[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a whole number; set it to e.g. {default}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{key}={value} is outside {low}..{high}.")
    return value


def _rate(env: dict[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a number; set it to e.g. {default}.") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key}={value} must be a rate between 0 and 1.")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default: the process environment plus ``.env``).

    Raises
    ------
    ConfigError
        When a value is malformed, or a placeholder secret is used outside development.
    """
    env = dict(_read_dotenv(REPO_ROOT / ".env")) if environ is None else {}
    env.update(os.environ if environ is None else environ)
    data_dir = Path(env.get("MUSHROOM_DATA_DIR") or REPO_ROOT / "data").resolve()
    environment = env.get("MUSHROOM_ENV", "development")
    if environment not in ("development", "test", "production"):
        raise ConfigError(f"MUSHROOM_ENV={environment!r}: use development, test or production.")
    staging = env.get("STAGING_DATABASE_URL") or f"sqlite:///{data_dir / 'staging.db'}"
    production = env.get("PRODUCTION_DATABASE_URL") or f"sqlite:///{data_dir / 'production.db'}"
    for key, url in (("STAGING_DATABASE_URL", staging), ("PRODUCTION_DATABASE_URL", production)):
        if not url.startswith(("sqlite", "postgresql", "mariadb", "mysql")):
            raise ConfigError(f"{key} must be a sqlite, postgresql or mariadb URL, not {url.split(':')[0]!r}.")
        if environment == "production" and ("changeme" in url or "password@" in url):
            raise ConfigError(f"{key} uses a placeholder password; set a real one for production.")
    policy = env.get("INVALID_ROW_POLICY", "reject")
    if policy not in INVALID_ROW_POLICIES:
        raise ConfigError(f"INVALID_ROW_POLICY={policy!r}: use one of {', '.join(INVALID_ROW_POLICIES)}.")
    calibration = env.get("SAFETY_CALIBRATION", "empirical")
    if calibration not in ("empirical", "species_conformal"):
        raise ConfigError(f"SAFETY_CALIBRATION={calibration!r}: use empirical or species_conformal.")
    return Settings(
        data_dir=data_dir,
        staging_database_url=staging,
        production_database_url=production,
        artifact_dir=Path(env.get("ARTIFACT_DIR") or data_dir / "artifacts").resolve(),
        inbox_dir=Path(env.get("INBOX_DIR") or data_dir / "inbox").resolve(),
        upload_max_mb=_int(env, "UPLOAD_MAX_MB", 200, 1, 4096),
        invalid_row_policy=policy,
        environment=environment,
        max_false_edible_rate=_rate(env, "MAX_FALSE_EDIBLE_RATE", 0.01),
        production_gate_max_false_edible=_rate(env, "PRODUCTION_GATE_MAX_FALSE_EDIBLE", 0.01),
        safety_calibration=calibration,
        user=env.get("MUSHROOM_USER") or env.get("USER") or "system",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide Settings, read once."""
    return load_settings()
