"""Agent settings: keyword arguments of `start()` over ORION_* environment variables.

The environment is how settings reach processes the agent never sees start: `orion run`,
the zero-config hook and child processes all pass them this way.
"""

from __future__ import annotations

import os

from ..errors import OrionError

MODES = ("dev", "safe", "error")
DEFAULT_SAMPLE = 0.01
DEFAULT_RING = 20_000
# dev/safe adaptive capture (spec 7.1): a function's first FULL calls keep their values,
# then one call in EVERY does; a trace records at most MAX calls.
DEFAULT_ADAPTIVE = (10, 1000, 20_000_000)
# Names whose values are redacted (whole words of a name: `db_password`, `authToken`), by
# every agent; orion.agent.values applies them, `orion config` lists them.
DEFAULT_SECRETS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "api_key",
                   "apikey", "access_key", "auth", "authorization", "cookie", "session",
                   "private_key", "privatekey", "credential", "credentials", "signature", "dsn")


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class AgentConfig:
    """The agent's settings. A plain class, not a dataclass: importing dataclasses pulls in
    inspect, about a third of the agent's start-up in every traced process."""

    mode: str = "error"
    spool: str | None = None
    include_modules: list[str]
    exclude_modules: list[str]
    include_paths: list[str]
    exclude_paths: list[str]
    sample: float = DEFAULT_SAMPLE  # safe mode: fraction of calls kept; 1.0 = no sampling
    ring: int = DEFAULT_RING  # error mode: events kept in memory
    sampled: bool = False  # error mode: a sampled ring (stacks every ~1 ms), no call hook
    adaptive: tuple[int, int, int] | None = DEFAULT_ADAPTIVE  # (full, every, max); None: off
    redact: list[str] | None = None  # None: the default secret-name list
    env_allow: list[str]  # variables the snapshot records too
    service: str | None = None
    hook: str = "auto"  # auto | c | python
    report: str | None = None  # file that receives the path of every trace (and crash sidecar)
    parent: dict | None = None

    _LISTS = ("include_modules", "exclude_modules", "include_paths", "exclude_paths",
              "env_allow")

    def __init__(self, **settings) -> None:
        for name in self._LISTS:
            setattr(self, name, [])
        for name, value in settings.items():
            if name not in AgentConfig.__annotations__:
                raise TypeError(f"AgentConfig has no setting {name!r}")
            setattr(self, name, value)

    def _settings(self) -> dict:
        return {name: getattr(self, name) for name in AgentConfig.__annotations__}

    def __repr__(self) -> str:
        return "AgentConfig(%s)" % ", ".join(f"{k}={v!r}" for k, v in self._settings().items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AgentConfig):
            return NotImplemented
        return self._settings() == other._settings()

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None, **overrides) -> "AgentConfig":
        env = os.environ if environ is None else environ
        config = cls(
            mode=env.get("ORION_MODE") or "error",
            spool=env.get("ORION_SPOOL") or None,
            include_modules=_csv(env.get("ORION_INCLUDE")),
            exclude_modules=_csv(env.get("ORION_EXCLUDE")),
            include_paths=_csv(env.get("ORION_INCLUDE_PATHS")),
            exclude_paths=_csv(env.get("ORION_EXCLUDE_PATHS")),
            redact=_csv(env["ORION_REDACT"]) if env.get("ORION_REDACT") else None,
            env_allow=_csv(env.get("ORION_ENV_ALLOW")),
            service=env.get("ORION_SERVICE") or None,
            hook=env.get("ORION_HOOK") or "auto",
            report=env.get("ORION_REPORT") or None,
            parent=parse_parent(env.get("ORION_PARENT")),
        )
        if env.get("ORION_SAMPLE"):
            config.sample = parse_sample(env["ORION_SAMPLE"])
        if env.get("ORION_RING"):
            config.ring, config.sampled = parse_ring(env["ORION_RING"])
        if env.get("ORION_ADAPTIVE"):
            config.adaptive = parse_adaptive(env["ORION_ADAPTIVE"])
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        config.check()
        return config

    def check(self) -> None:
        if self.mode not in MODES:
            raise OrionError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        if not 0.0 <= self.sample <= 1.0:
            raise OrionError(f"sample rate {self.sample} is not between 0 and 1")
        if self.ring < 16:
            raise OrionError("the error-mode ring must hold at least 16 events")

    def to_env(self) -> dict[str, str]:
        """The variables that make a child process start with these settings."""
        env = {"ORION_MODE": self.mode, "ORION_SAMPLE": repr(self.sample),
               "ORION_RING": "sampled" if self.sampled else str(self.ring),
               "ORION_HOOK": self.hook,
               "ORION_ADAPTIVE": "/".join(map(str, self.adaptive)) if self.adaptive else "off"}
        for key, values in (("ORION_INCLUDE", self.include_modules),
                            ("ORION_EXCLUDE", self.exclude_modules),
                            ("ORION_INCLUDE_PATHS", self.include_paths),
                            ("ORION_EXCLUDE_PATHS", self.exclude_paths),
                           ("ORION_ENV_ALLOW", self.env_allow)):
            if values:
                env[key] = ",".join(values)
        if self.redact is not None:
            env["ORION_REDACT"] = ",".join(self.redact) or ","
        for key, value in (("ORION_SPOOL", self.spool), ("ORION_SERVICE", self.service),
                           ("ORION_REPORT", self.report)):
            if value:
                env[key] = value
        return env


def parse_sample(text: str) -> float:
    """`0.01`, `1%`, or `off` (no sampling: every call is kept)."""
    text = text.strip().lower()
    if text in ("off", "none", "all", "no"):
        return 1.0
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise OrionError(f"bad sample rate {text!r}: use a fraction, a percentage or 'off'") from None


def parse_ring(text: str) -> tuple[int, bool]:
    """ORION_RING: the exact ring's size in events, or `sampled` (see Session)."""
    text = text.strip().lower()
    if text == "sampled":
        return DEFAULT_RING, True
    try:
        return int(text), False
    except ValueError:
        raise OrionError(f"bad ring {text!r}: give a number of events or 'sampled'") from None


def parse_adaptive(text: str) -> tuple[int, int, int] | None:
    """ORION_ADAPTIVE=FULL/EVERY/MAX (`10/1000/20000000`; MAX 0: no cap), or `off`."""
    text = text.strip().lower()
    if text in ("off", "none", "no"):
        return None
    try:
        full, every, most = (int(part) for part in text.split("/"))
    except ValueError:
        raise OrionError(f"bad adaptive capture {text!r}: give FULL/EVERY/MAX calls "
                         f"(e.g. 10/1000/20000000) or 'off'") from None
    if full < 0 or every < 1 or most < 0:
        raise OrionError(f"bad adaptive capture {text!r}: FULL and MAX must be >= 0, "
                         f"EVERY >= 1")
    return full, every, most


def parse_parent(text: str | None) -> dict | None:
    """ORION_PARENT=<trace id>-<span id>, as a child process receives it."""
    if not text or "-" not in text:
        return None
    trace_id, _, span_id = text.partition("-")
    return {"trace_id": trace_id, "span_id": span_id}
