"""Who sees what: ``[auth]`` (sign-in sessions and the OpenID Connect provider),
``[dashboard]`` (open or sign-in required) and ``[privacy]`` (the pseudonym key file and the
words after which a name follows)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import Problem


@dataclass(frozen=True)
class AuthSettings:
    """``[auth]``: how long a dashboard sign-in lasts, and the OpenID Connect provider of
    ``st.login`` (secrets are never in the file: ``*_env`` name environment variables)."""

    session_minutes: float = 30.0  # idle time after which a sign-in ends
    session_max_hours: float = 12.0  # a sign-in ends after this long even when in use
    server_metadata_url: str | None = None  # set: single sign-on is offered
    client_id: str | None = None
    redirect_uri: str | None = None
    client_secret_env: str | None = None
    cookie_secret_env: str | None = None

    @property
    def oidc(self) -> bool:
        """Whether an OpenID Connect provider is configured."""
        return bool(self.server_metadata_url)


OIDC_KEYS = ("client_id", "redirect_uri", "client_secret_env", "cookie_secret_env")


@dataclass(frozen=True)
class DashboardSettings:
    """``[dashboard]``: ``sign_in = "open"`` lets everyone look as the district (the demo);
    ``"required"`` (the default) asks for an account."""

    sign_in: Literal["required", "open"] = "required"

    @property
    def open(self) -> bool:
        return self.sign_in == "open"


def parse_privacy(raw: Any, base_dir: Path, place: str, problems: list[Problem]
                  ) -> tuple[list[str], Path | None]:
    """The ``[privacy]`` section as (name labels, key file); every problem is added to
    ``problems``."""
    privacy_cfg = raw or {}
    for key in sorted(set(privacy_cfg) - {"key_file", "name_labels"}):
        problems.append(Problem(place, f"unknown [privacy] key '{key}'"))
    labels = privacy_cfg.get("name_labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
        problems.append(Problem(place, "'name_labels' must be a list of words "
                                       "after which a name follows (联系人 …)"))
        labels = []
    key_file: Path | None = None
    raw_key_file = privacy_cfg.get("key_file")
    if raw_key_file is not None:
        if not isinstance(raw_key_file, str):
            problems.append(Problem(place, "'key_file' must be a path"))
        else:  # a path to the secret (never the secret), relative to the config
            kf = Path(raw_key_file).expanduser()
            key_file = kf if kf.is_absolute() else base_dir / kf
    return labels, key_file


def _table(raw: Any, name: str, place: str, problems: list[Problem]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(place, f"'{name}' must be a table ([{name}])"))
        return {}
    return raw


def parse_auth(raw: Any, place: str, problems: list[Problem]) -> AuthSettings:
    """``[auth]``: durations of 0 or more (0: a sign-in ends at the next page); a provider
    needs every OIDC key."""
    cfg = _table(raw, "auth", place, problems)
    known = {f for f in AuthSettings.__dataclass_fields__}
    for key in sorted(set(cfg) - known):
        problems.append(Problem(place, f"unknown [auth] key '{key}' "
                                       f"(keys: {', '.join(sorted(known))})"))
    values: dict[str, Any] = {}
    for key in ("session_minutes", "session_max_hours"):
        if key not in cfg:
            continue
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            problems.append(Problem(place, f"'{key}' must be a number (0 or more), not {v!r}"))
        else:
            values[key] = float(v)
    for key in ("server_metadata_url", *OIDC_KEYS):
        if key not in cfg:
            continue
        v = cfg[key]
        if not isinstance(v, str) or not v.strip():
            problems.append(Problem(place, f"'{key}' must be a non-empty text, not {v!r}"))
        else:
            values[key] = v
    auth = AuthSettings(**values)
    if auth.oidc:
        missing = [k for k in OIDC_KEYS if k not in values and k not in cfg]
        if missing:
            problems.append(Problem(place, "an OIDC provider (server_metadata_url) also needs "
                                           + ", ".join(missing)))
    return auth


def parse_dashboard(raw: Any, place: str, problems: list[Problem]) -> DashboardSettings:
    """``[dashboard]``: ``sign_in`` only."""
    cfg = _table(raw, "dashboard", place, problems)
    for key in sorted(set(cfg) - {"sign_in"}):
        problems.append(Problem(place, f"unknown [dashboard] key '{key}' (keys: sign_in)"))
    sign_in = cfg.get("sign_in", "required")
    if sign_in not in ("required", "open"):
        problems.append(Problem(place, "'sign_in' must be \"required\" (accounts) or \"open\" "
                                       f"(everyone sees the district), not {sign_in!r}"))
        sign_in = "required"
    return DashboardSettings(sign_in=sign_in)
