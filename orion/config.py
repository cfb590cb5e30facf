"""Configuration: known keys, the user and project files, and their merged view.

Two TOML files hold settings: the user's (`$XDG_CONFIG_HOME/orionis/config.toml` or the
platform's analogue) and the project's (`.orion/config.toml` in the nearest `.orion/`
upwards), which wins. Keys are dotted (`capture.mode`); a dotted key is a table path in the
file (`[capture]` / `mode = "dev"`). Every known key has a type, a default and a help line
in KNOWN_KEYS, so agents and the CLI validate values the same way; keys under `x.` are free
for experiments and extensions.

Files are read with tomllib and written with the small emitter below (tables of scalars and
string lists), atomically, so a crash never leaves half a config behind. Comments in a file
are not kept when orion rewrites it.
"""

from __future__ import annotations

import math
import os
import sys
from collections import namedtuple

from . import spooldir
from .agent.config import DEFAULT_SECRETS
from .errors import OrionError
from .lazyre import LazyPattern

# Every `orion run` reads the config (agent_environ): finding that there is none works on
# str paths, without importing pathlib; the functions that hand out Paths import it.
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every `orion run`
    from pathlib import Path
    from typing import Any, Mapping

CONFIG_NAME = "config.toml"
FREE_PREFIX = "x."

_BARE_KEY = LazyPattern(r"[A-Za-z0-9_-]+\Z")  # \Z: "$" would let a final newline through
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ConfigError(OrionError):
    """A bad key, a bad value, or a config file that cannot be read or written."""


class Key(namedtuple("Key", ["name", "kind", "default", "help", "choices", "minimum",
                             "maximum"], defaults=((), None, None))):
    """A known setting: `kind` is one of str, choice, list, int, float, bool; `choices` a
    tuple, `minimum` and `maximum` numbers or None. (collections' namedtuples here, not
    dataclasses or typing's, whose imports every `orion run` would pay.)"""

    __slots__ = ()

    def parse(self, text: str) -> Any:
        """The value a user typed on the command line, converted and checked."""
        if self.kind == "list":
            return self.check([part.strip() for part in text.split(",") if part.strip()])
        if self.kind in ("int", "float"):
            try:
                number = int(text) if self.kind == "int" else float(text)
            except ValueError:
                raise ConfigError(f"{self.name} must be {self.describe()}, not {text!r}") from None
            return self.check(number)
        if self.kind == "bool":
            word = text.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ConfigError(f"{self.name} must be {self.describe()}, not {text!r}")
            return word in _TRUE
        return self.check(text)

    def check(self, value: Any) -> Any:
        """`value` if it is valid for this key (ints are accepted as floats), else ConfigError."""
        ok = {
            "str": lambda v: isinstance(v, str),
            "choice": lambda v: v in self.choices,
            "list": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)
                                and math.isfinite(v)),
            "bool": lambda v: isinstance(v, bool),
        }[self.kind](value)
        if ok and self.kind in ("int", "float"):
            ok = ((self.minimum is None or value >= self.minimum)
                  and (self.maximum is None or value <= self.maximum))
        if not ok:
            raise ConfigError(f"{self.name} must be {self.describe()}, not {value!r}")
        return float(value) if self.kind == "float" else value

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{what} from {self.minimum:g} to {self.maximum:g}"
            if self.minimum is not None:
                return f"{what} >= {self.minimum:g}"
            return what
        return {"str": "a string", "list": "a comma-separated list",
                "bool": "true or false"}[self.kind]


# The agents' own default, so that a config.toml written by `orion init` redacts no less.
DEFAULT_REDACT_NAMES = list(DEFAULT_SECRETS)

KNOWN_KEYS: dict[str, Key] = {key.name: key for key in (
    Key("capture.mode", "choice", "dev",
        "What agents record: dev (everything), safe (calls only, sampled), "
        "error (a ring, written on failure).", choices=("dev", "safe", "error")),
    Key("capture.include", "list", [],
        "Python modules (with their submodules) or path prefixes (with a /) to trace even "
        "where they would not be, e.g. a library."),
    Key("capture.exclude", "list", [],
        "Python modules (with their submodules) or path prefixes (with a /) never to "
        "trace, on top of the standard library and site-packages."),
    Key("capture.sample_rate", "float", None,
        "Fraction of runs recorded in safe mode (unset: every run under `orion run`, 1% "
        "under `orion start`).", minimum=0.0, maximum=1.0),
    Key("capture.env", "list", [],
        "Environment variables trace headers record besides the default selection (names, "
        "or prefixes ending in *); the others are only counted."),
    Key("redact.names", "list", DEFAULT_REDACT_NAMES,
        "Names whose values are redacted in locals, arguments, headers and the environment."),
    Key("service.name", "str", None, "Service name recorded in every trace's header."),
)}

# How a key set in a config file reaches the agents: the ORION_* variable they read.
AGENT_VARIABLES = {"capture.mode": "ORION_MODE", "capture.sample_rate": "ORION_SAMPLE",
                   "redact.names": "ORION_REDACT", "service.name": "ORION_SERVICE",
                   "capture.env": "ORION_ENV_ALLOW"}


def key_for(name: str) -> Key | None:
    """The Key for a known name, None for a free `x.` key; ConfigError for anything else."""
    if not all(_BARE_KEY.match(part) for part in name.split(".")):
        raise ConfigError(f"{name!r} is not a config key (dotted words like capture.mode)")
    if name in KNOWN_KEYS:
        return KNOWN_KEYS[name]
    if name.startswith(FREE_PREFIX):
        return None
    raise ConfigError(f"unknown config key {name!r} (see `orion config list`; "
                      f"keys of your own start with {FREE_PREFIX!r})")


def parse_value(name: str, text: str) -> Any:
    """A command-line value for `name`, validated; free `x.` keys hold strings."""
    key = key_for(name)
    return text if key is None else key.parse(text)


def format_value(value: Any) -> str:
    """A value as a user would type it back: lists comma-separated, booleans lower-case."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# -- where the files are ---------------------------------------------------------------

def _user_config_file() -> str:
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "orionis", CONFIG_NAME)
    if os.name == "nt":
        base = os.environ.get("APPDATA") or os.path.join(home, "AppData", "Roaming")
        return os.path.join(base, "orionis", CONFIG_NAME)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(base, "orionis", CONFIG_NAME)


def _project_config_file(cwd: str | Path | None = None) -> str | None:
    project = spooldir.find_project_dir(None if cwd is None else str(cwd))
    return os.path.join(project, CONFIG_NAME) if project is not None else None


def user_config_path() -> Path:
    from pathlib import Path

    return Path(_user_config_file())


def project_config_path(cwd: Path | None = None) -> Path | None:
    """`config.toml` in the nearest `.orion/`, or None outside any project."""
    from pathlib import Path

    found = _project_config_file(cwd)
    return None if found is None else Path(found)


def config_path(scope: str, cwd: Path | None = None) -> Path:
    """The file a scope writes to; ConfigError for --project outside a project."""
    if scope == "user":
        return user_config_path()
    path = project_config_path(cwd)
    if path is None:
        raise ConfigError("no .orion/ directory here or above: run `orion init` or create "
                          ".orion/ at the project's root first")
    return path


# -- reading ---------------------------------------------------------------------------

def read_file(path: str | Path) -> dict:
    """A config file's tables as tomllib gives them; {} when the file does not exist."""
    try:
        with open(path, "rb") as f:
            import tomllib  # only when a file exists: most runs have no config to parse

            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:  # bound: only tomllib.load raises it
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def flatten(tables: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables -> {"dotted.key": value}."""
    flat: dict[str, Any] = {}
    for name, value in tables.items():
        dotted = prefix + name
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def read_settings(path: str | Path) -> dict[str, Any]:
    """A file's dotted settings with every known key validated (unknown keys kept as is,
    so a file written by a newer orion still loads)."""
    settings = flatten(read_file(path))
    for name, value in settings.items():
        if name in KNOWN_KEYS:
            try:
                settings[name] = KNOWN_KEYS[name].check(value)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
    return settings


class Setting(namedtuple("Setting", ["key", "value", "source", "path"], defaults=(None,))):
    """A merged value and where it came from: source is default, user or project; path
    the file that set it, or None."""

    __slots__ = ()


def resolve_config(cwd: Path | None = None) -> dict[str, Setting]:
    """Every known key and every key set in a file, with the file that decided it."""
    merged = {name: Setting(name, key.default, "default") for name, key in KNOWN_KEYS.items()}
    project = _project_config_file(cwd)
    for scope, path in (("user", _user_config_file()), ("project", project)):
        settings = read_settings(path) if path is not None else {}
        if settings:
            from pathlib import Path

            for name, value in settings.items():
                merged[name] = Setting(name, value, scope, Path(path))
    return dict(sorted(merged.items()))


def load_config(cwd: Path | None = None) -> dict[str, Any]:
    """The merged configuration as {"dotted.key": value}, defaults included.

    This is the API for agents and other tools: the project's file overrides the user's,
    which overrides the defaults in KNOWN_KEYS. Unset keys without a default are None.
    """
    return {name: setting.value for name, setting in resolve_config(cwd).items()}


def agent_environ(environ: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> dict[str, str]:
    """The environment a traced command starts with: ORION_* variables for what the config
    files set, under the real environment, which wins (`ORION_MODE=safe orion run ...`)."""
    configured: dict[str, str] = {}
    for name, setting in resolve_config(cwd).items():
        if setting.source == "default" or setting.value is None:
            continue
        if name in AGENT_VARIABLES:
            text = format_value(setting.value)
            configured[AGENT_VARIABLES[name]] = text or ","  # an empty list: redact nothing
        elif name in ("capture.include", "capture.exclude"):
            side = name.rsplit(".", 1)[1].upper()
            paths = [item for item in setting.value if "/" in item]
            modules = [item for item in setting.value if "/" not in item]
            for variable, items in ((f"ORION_{side}", modules), (f"ORION_{side}_PATHS", paths)):
                if items:
                    configured[variable] = ",".join(items)
    return {**configured, **(os.environ if environ is None else environ)}


# -- writing ---------------------------------------------------------------------------

def set_value(name: str, value: Any, scope: str = "user", cwd: Path | None = None) -> Path:
    """Store an already parsed value in the scope's file; return the file."""
    key = key_for(name)
    if key is not None:
        value = key.check(value)
    path = config_path(scope, cwd)
    tables = read_file(path)
    parts = name.split(".")
    table = tables
    for part in parts[:-1]:
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{path}: {part!r} holds a value, so {name!r} cannot be set "
                              f"under it (unset it first)")
        table = child
    if isinstance(table.get(parts[-1]), dict):
        raise ConfigError(f"{path}: {name!r} is a table of settings, not a single value")
    table[parts[-1]] = value
    write_file(path, tables)
    return path


def unset_value(name: str, scope: str = "user", cwd: Path | None = None) -> bool:
    """Remove a key from the scope's file (and tables left empty); False if it was not set."""
    key_for(name)
    path = config_path(scope, cwd)
    tables = read_file(path)
    parts = name.split(".")
    trail = [tables]
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return False
        trail.append(child)
    if parts[-1] not in trail[-1] or isinstance(trail[-1][parts[-1]], dict):
        return False
    del trail[-1][parts[-1]]
    for depth in range(len(parts) - 1, 0, -1):
        if trail[depth]:
            break
        del trail[depth - 1][parts[depth - 1]]
    write_file(path, tables)
    return True


def write_file(path: Path, tables: Mapping[str, Any]) -> None:
    """Write the tables atomically (temporary file, then rename)."""
    text = dumps_toml(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        temporary.unlink(missing_ok=True)


# -- the TOML emitter ------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(name: str) -> str:
    return name if _BARE_KEY.match(name) else toml_string(name)


def toml_value(value: Any) -> str:
    """A scalar or a (nested) list of them; dates and arrays of tables are refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise ConfigError(f"cannot write a {type(value).__name__} value to a config file")


def dumps_toml(tables: Mapping[str, Any]) -> str:
    """TOML text for nested tables of scalars and lists, read back equal by tomllib."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], path: list[str]) -> None:
        values = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
        children = [(k, v) for k, v in table.items() if isinstance(v, dict)]
        if path and (values or not children):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(toml_key(part) for part in path) + "]")
        for name, value in values:
            lines.append(f"{toml_key(name)} = {toml_value(value)}")
        for name, child in children:
            emit(child, [*path, name])

    emit(tables, [])
    return "\n".join(lines) + "\n" if lines else ""
