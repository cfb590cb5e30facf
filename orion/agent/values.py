"""Captured values: a bounded, exception-safe picture of a Python object in wire form.

A value is written as itself when it is a small scalar, else as a node
[kind, type_sid, ...] (see orion/format/constants.py). Limits keep a capture cheap and
small whatever the program holds: strings and reprs to 200 characters, containers to 50
items, depth 2. Names that look secret are replaced by a redacted node, and so is any
string that still contains a secret value (a secret environment variable's, a URL
password's, or one redacted before) once its secret-shaped words are scrubbed; those words (a URL's password, a secret-named query parameter's value,
well-known token formats) inside strings are replaced by <redacted>.
"""

from __future__ import annotations

import os

from ..format import constants as C
from ..lazyre import LazyPattern
from .config import DEFAULT_SECRETS  # kept there: the CLI reads it without these patterns

# What every traced process does as it starts (judge the environment's names, the command
# line's options, scrub the environment's values) is plain string work; regular expressions
# are compiled, and `re` imported, only for text that may hold a secret's shape.
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing would cost every traced process
    import re
    from typing import Any, Callable, Iterable, Mapping

MAX_TEXT = 200
MAX_ITEMS = 50
MAX_DEPTH = 2
INT64 = (-(1 << 63), (1 << 63) - 1)

# Names a word matches that hold no secret: the shell's working directories (`pwd`).
NOT_SECRET = frozenset({"PWD", "OLDPWD"})
# A secret value shorter than this is not hidden in free text: it would hide innocent words.
MIN_SCRUBBED = 6
# Secret values kept for scrubbing (as the native agent's): every captured string is checked
# against each, so a program redacting ever new values must not make capture slower and slower.
MAX_SECRET_VALUES = 64

def _upper(char: str) -> bool:
    return "A" <= char <= "Z"


def _lower_or_digit(char: str) -> bool:
    return "a" <= char <= "z" or "0" <= char <= "9"


def name_words(name: str) -> str:
    """A name's words, lower-cased and joined by `_`: `authToken`, `AUTH-TOKEN` and
    `auth.token` all give `auth_token` (words break before a capital that follows a small
    letter or digit, or that starts a capitalised word: `HTTPServer` is `http_server`;
    and at blanks, `_`, `.` and `-`)."""
    chars = []
    last = len(name) - 1
    for at, char in enumerate(name):
        if at and _upper(char) and (_lower_or_digit(name[at - 1]) or (
                _upper(name[at - 1]) and at < last and "a" <= name[at + 1] <= "z")):
            chars.append("_")
        chars.append("_" if char in "_.-" or char.isspace() else char)
    return "_".join(word for word in "".join(chars).split("_") if word).lower()


class SecretNames:
    """Which names look secret: those holding one of the words as whole words of their
    own (`db_password`, `authToken`, `AUTH_HEADER`; not `author`), PWD and OLDPWD aside.
    Answers are remembered: the same few names come back on every call."""

    def __init__(self, words: Iterable[str]) -> None:
        # `_word_` within `_name's_words_`: the word as whole words of the name
        self._words = tuple(f"_{w}_" for w in sorted({name_words(w) for w in words}) if w)
        self._known: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        known = self._known.get(name)
        if known is None:
            words = f"_{name_words(name)}_"
            known = name not in NOT_SECRET and any(word in words for word in self._words)
            if len(self._known) < 100_000:
                self._known[name] = known
        return known


def worth_scrubbing(value: str) -> bool:
    """Whether a secret value is hidden wherever it appears in free text: at least
    MIN_SCRUBBED characters, and not the path of an existing file or directory."""
    return len(value) >= MIN_SCRUBBED and not ("/" in value and os.path.exists(value))


def add_secret_value(values: list[str], value: str) -> None:
    """Add `value` to `values`, kept longest first so that scrub() hides all of a secret
    that holds a shorter one."""
    if len(values) >= MAX_SECRET_VALUES or value in values or not worth_scrubbing(value):
        return
    at = next((i for i, known in enumerate(values) if len(known) < len(value)), len(values))
    values.insert(at, value)


REDACTED = "<redacted>"  # what replaces a secret inside free text


def option_parts(word: str) -> tuple[str, str | None] | None:
    """A command-line option's name and its inline value (`--api-key=VALUE`: `api-key`,
    `VALUE`; `-p`: `p`, None); None for a word that is no option (a name starts with a
    letter and holds letters, digits, `_`, `.` and `-`)."""
    dashes = 2 if word.startswith("--") else 1 if word.startswith("-") else 0
    name, equals, value = word[dashes:].partition("=")
    if not dashes or not name or not ("A" <= name[0] <= "Z" or "a" <= name[0] <= "z") or not all(
            char.isalnum() or char in "_.-" for char in name):
        return None
    return name, value if equals else None

# Secrets recognised by their shape wherever they appear (spec section 7): a URL's
# password, the value of a query parameter or of a header line whose name looks secret
# (`?session=`, `Cookie: `, `X-Api-Key: `; a header's name is Authorization, Cookie or
# hyphenated), a bearer token, GitHub, AWS and Slack tokens, JSON Web Tokens.
_SHAPES = LazyPattern(
    r"(?<=[A-Za-z0-9])(?P<url>://[^/\s:@]*:)[^/\s@]+(?=@)"
    r"|(?P<query>[?&;](?P<parameter>[A-Za-z][\w.-]*)=)[^&#;\s\"'<>]+"
    r"|(?P<header>(?<![\w-])(?P<field>(?i:authorization|cookie)|[A-Za-z][A-Za-z0-9]*"
    r"(?:-[A-Za-z0-9]+)+):[ \t]*(?:(?i:basic|bearer|digest|token|negotiate)[ \t]+)?)"
    r"[^\r\n\"']+"
    r"|(?P<bearer>\b(?i:bearer)\s+)[\w.~+/=-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*")
_URL_PASSWORD = LazyPattern(r"(?<=[A-Za-z0-9])://[^/\s:@]*:([^/\s@]+)@")
SHAPE_MIN = 4  # no shape fits in fewer characters (`?k=v`)


def may_hold_shape(text: str) -> bool:
    """Whether `text` holds what every secret shape holds: most strings do not, and skip
    the regular expression, which costs far more than these checks."""
    return len(text) >= SHAPE_MIN and (
        "://" in text or "eyJ" in text or "AKIA" in text or "ASIA" in text or "xox" in text
        or "earer" in text or "EARER" in text or ("_" in text and "gh" in text)
        or ("=" in text and ("?" in text or "&" in text or ";" in text))
        or (":" in text and _may_hold_header(text)))


_HEADER_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def _may_hold_header(text: str) -> bool:
    """Whether `text` holds what a header line's shape needs: Authorization or Cookie, or
    a hyphenated word (`X-Api-Key`), then `:`."""
    lowered = text.lower()
    if "authorization:" in lowered or "cookie:" in lowered:
        return True
    colon = text.find(":")
    while colon >= 0:
        start = colon
        while start and text[start - 1] in _HEADER_NAME_CHARS:
            start -= 1
        if "-" in text[start:colon].lstrip("-"):  # a letter or digit, then `-`
            return True
        colon = text.find(":", colon + 1)
    return False


class _ShapeHider:
    """The replacement of one secret-shaped match; a query parameter's or header's value
    only when its name looks secret (`?session=<redacted>&page=2`, `X-Api-Key: <redacted>`;
    not `X-Request-Id: 42`, whose value is searched for other shapes)."""

    def __init__(self, secrets: SecretNames) -> None:
        self.secrets = secrets

    def __call__(self, found: re.Match) -> str:
        named = found["query"] or found["header"]
        if named:
            if self.secrets(found["parameter"] or found["field"]):
                return named + REDACTED
            return named + _SHAPES.sub(self, found[0][len(named):])
        return (found["url"] or found["bearer"] or "") + REDACTED


_DEFAULT_HIDER = _ShapeHider(SecretNames(DEFAULT_SECRETS))


def scrub(text: str, secret_values: Iterable[str], secrets: SecretNames | None = None) -> str:
    """`text` with every secret value and every secret-shaped word in it replaced by
    <redacted>: free text (an exception message, a command-line word) has no redacted
    node of its own. `secrets` judges the names of query parameters and header lines
    (default: the default words)."""
    for secret in secret_values:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if not may_hold_shape(text):
        return text
    return _SHAPES.sub(_DEFAULT_HIDER if secrets is None else _ShapeHider(secrets), text)


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-")


def is_short_password(word: str) -> bool:
    """Whether the word after a bare `-p` is taken for a password (`sshpass -p`, mysql-style
    tools): one holding a digit or a symbol, but not a number or port (`-p 8080`,
    `-p 80:80`), a `name:value` (pytest's `-p no:cacheprovider`), a path or an existing
    file, since `-p` means all of these; a plain name (`-p xdist`, `mkdir -p build`) is
    not taken for one."""
    return not (word.startswith("-") or word.isdigit() or "/" in word or ":" in word
                or os.path.exists(word)) and not _NAME_CHARS.issuperset(word)


def _secret_options(argv: list[str], secrets: SecretNames) -> tuple[set[int], dict[int, str]]:
    """Which words of a command line are secret option values: the indexes of whole words
    (after `--password` or a password-like `-p`), and `--api-key=VALUE` words by index."""
    whole: set[int] = set()
    inline: dict[int, str] = {}
    for i, arg in enumerate(argv):
        if i in whole:
            continue
        option = option_parts(arg)
        if option is None:
            continue
        name, value = option
        if secrets(name):
            if value is None:
                whole.add(i + 1)
            else:
                inline[i] = value
        elif arg == "-p" and i + 1 < len(argv) and is_short_password(argv[i + 1]):
            whole.add(i + 1)
    return whole, inline


def redact_argv(argv: Iterable[str], secrets: SecretNames,
                secret_values: Iterable[str] = ()) -> list[str]:
    """A command line with the value of every option whose name looks secret redacted
    (`--api-key=<redacted>`, or the word after `--password` or a password-like `-p`), and
    secrets scrubbed."""
    argv = list(argv)
    secret_values = tuple(secret_values)
    whole, inline = _secret_options(argv, secrets)
    out: list[str] = []
    for i, arg in enumerate(argv):
        if i in whole:
            out.append(REDACTED)
            continue
        if i in inline:
            arg = arg[: len(arg) - len(inline[i])] + REDACTED
        out.append(scrub(arg, secret_values, secrets))
    return out


def startup_secret_values(environ: Mapping[str, str], argv: Iterable[str],
                          secrets: SecretNames) -> list[str]:
    """The values scrubbed from free text from the start (longest first): those of
    secret-named environment variables and secret command-line options, and every URL's
    password in the environment or on the command line, so that `pw-1234` typed alone
    after `postgres://app:pw-1234@db` appeared in DATABASE_URL is hidden too."""
    argv = list(argv)
    found: list[str] = []
    for key, value in environ.items():
        if secrets(key):
            add_secret_value(found, value)
    whole, inline = _secret_options(argv, secrets)
    for i in sorted(whole):
        if i < len(argv):
            add_secret_value(found, argv[i])
    for value in inline.values():
        add_secret_value(found, value)
    for text in (*environ.values(), *argv):
        if "://" in text:
            for password in _URL_PASSWORD.findall(text):
                add_secret_value(found, password)
    return found


_SEQ_TYPES = (list, tuple, set, frozenset)


class Capturer:
    """Turns objects into wire values, interning type names through `string`."""

    def __init__(self, string: Callable[[str], int], secrets: SecretNames,
                 secret_values: list[str] | None = None) -> None:
        self.string = string
        self.is_secret = secrets
        # Shared with the session, which scrubs them from messages: a value redacted here
        # joins them, so that an exception message cannot repeat it.
        self.secret_values = [] if secret_values is None else secret_values
        self._hide_shape = _ShapeHider(secrets)
        self._type_sids: dict[type, int] = {}

    def _tsid(self, tp: type) -> int:
        sid = self._type_sids.get(tp)
        if sid is None:
            sid = self._type_sids[tp] = self.string(_type_name(tp))
        return sid

    def redacted(self, value: Any) -> list:
        if type(value) is str:
            add_secret_value(self.secret_values, value)
        return [C.V_REDACTED, self._tsid(type(value))]

    def pairs(self, items: Iterable[tuple[str, Any]]) -> list:
        """[(name, object)] -> flat [name sid, value, ...], redacting secret names."""
        flat: list = []
        string = self.string
        for name, value in items:
            flat.append(string(name))
            flat.append(self.redacted(value) if self.is_secret(name) else self.value(value))
        return flat

    def value(self, obj: Any, depth: int = 0) -> Any:
        tp = type(obj)
        if obj is None or tp is bool:
            return obj
        if tp is int:
            if INT64[0] <= obj <= INT64[1]:
                return obj
            return self._text(obj, depth)
        if tp is float:
            return obj if obj - obj == 0.0 else [C.V_TEXT, self._tsid(tp), repr(obj)]
        if tp is str:
            if may_hold_shape(obj):
                obj = _SHAPES.sub(self._hide_shape, obj)
            if self.secret_values and self._leaks(obj):
                return [C.V_REDACTED, self._tsid(tp)]
            if len(obj) <= MAX_TEXT:
                return obj
            return [C.V_TEXT, self._tsid(tp), obj[:MAX_TEXT], len(obj)]
        try:
            if isinstance(obj, _SEQ_TYPES) or isinstance(obj, dict):
                return self._container(obj, tp, depth)
            if (tp.__repr__ is object.__repr__ and hasattr(obj, "__dict__")
                    and not isinstance(obj, type)):
                return self._object(obj, tp, depth)
        except Exception as exc:  # a container whose iteration raises
            return [C.V_ERROR, self._tsid(tp), _describe(exc)]
        return self._text(obj, depth)

    def _container(self, obj: Any, tp: type, depth: int) -> list:
        length = len(obj)
        if depth >= MAX_DEPTH:
            return [C.V_ELIDED, self._tsid(tp), length]
        cut = [length] if length > MAX_ITEMS else []
        if isinstance(obj, dict):
            flat: list = []
            for i, (key, item) in enumerate(obj.items()):
                if i >= MAX_ITEMS:
                    break
                flat.append(self.value(key, depth + 1))
                secret = isinstance(key, str) and self.is_secret(key)
                flat.append(self.redacted(item) if secret else self.value(item, depth + 1))
            return [C.V_MAP, self._tsid(tp), flat, *cut]
        items = []
        for i, item in enumerate(obj):
            if i >= MAX_ITEMS:
                break
            items.append(self.value(item, depth + 1))
        return [C.V_SEQ, self._tsid(tp), items, *cut]

    def _object(self, obj: Any, tp: type, depth: int) -> list:
        fields = vars(obj)
        if depth >= MAX_DEPTH:
            return [C.V_ELIDED, self._tsid(tp), len(fields)]
        names = [n for n in fields if isinstance(n, str)][:MAX_ITEMS]
        flat: list = []
        for name in names:
            flat.append(self.string(name))
            item = fields[name]
            flat.append(self.redacted(item) if self.is_secret(name)
                        else self.value(item, depth + 1))
        cut = [len(fields)] if len(fields) > MAX_ITEMS else []
        return [C.V_OBJECT, self._tsid(tp), flat, *cut]

    def _text(self, obj: Any, depth: int) -> list:
        tp = type(obj)
        try:
            text = repr(obj)
            if type(text) is not str:
                raise TypeError("__repr__ returned non-string")
        except BaseException as exc:  # noqa: BLE001 - a broken __repr__ must not break the program
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return [C.V_ERROR, self._tsid(tp), _describe(exc)]
        if may_hold_shape(text):
            text = _SHAPES.sub(self._hide_shape, text)
        if self.secret_values and self._leaks(text):
            return [C.V_REDACTED, self._tsid(tp)]
        if len(text) > MAX_TEXT:
            return [C.V_TEXT, self._tsid(tp), text[:MAX_TEXT], len(text)]
        return [C.V_TEXT, self._tsid(tp), text]

    def _leaks(self, text: str) -> bool:
        return any(secret in text for secret in self.secret_values)


def _type_name(tp: type) -> str:
    module = getattr(tp, "__module__", None)
    name = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", "?")
    if module in (None, "builtins"):
        return name
    return f"{module}.{name}"


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = type(exc).__name__
    return text[:MAX_TEXT]
