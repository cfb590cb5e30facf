"""Captured values: a bounded, exception-safe picture of a Python object in wire form.

A value is written as itself when it is a small scalar, else as a node
[kind, type_sid, ...] (see orion/format/constants.py). Limits keep a capture cheap and
small whatever the program holds: strings and reprs to 200 characters, containers to 50
items, depth 2. Names that look secret are replaced by a redacted node, and so is any
string that contains a secret value (a secret environment variable's, or one redacted
before); secret-shaped words (a URL's password, well-known token formats) inside strings
are replaced by <redacted>.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable

from ..format import constants as C

MAX_TEXT = 200
MAX_ITEMS = 50
MAX_DEPTH = 2
INT64 = (-(1 << 63), (1 << 63) - 1)

DEFAULT_SECRETS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "api_key",
                   "apikey", "access_key", "auth", "authorization", "cookie", "session",
                   "private_key", "privatekey", "credential", "credentials", "signature", "dsn")
# Names a word matches that hold no secret: the shell's working directories (`pwd`).
NOT_SECRET = frozenset({"PWD", "OLDPWD"})
# A secret value shorter than this is not hidden in free text: it would hide innocent words.
MIN_SCRUBBED = 6
# Secret values kept for scrubbing (as the native agent's): every captured string is checked
# against each, so a program redacting ever new values must not make capture slower and slower.
MAX_SECRET_VALUES = 64

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_.-]+")


def name_words(name: str) -> str:
    """A name's words, lower-cased and joined by `_`: `authToken`, `AUTH-TOKEN` and
    `auth.token` all give `auth_token`."""
    return _SEPARATORS.sub("_", _CAMEL.sub("_", name)).strip("_").lower()


class SecretNames:
    """Which names look secret: those holding one of the words as whole words of their
    own (`db_password`, `authToken`, `AUTH_HEADER`; not `author`), PWD and OLDPWD aside.
    Answers are remembered: the same few names come back on every call."""

    def __init__(self, words: Iterable[str]) -> None:
        words = sorted({name_words(w) for w in words if w.strip()})
        self._pattern = re.compile(r"(?:^|_)(?:%s)(?:_|$)" % "|".join(map(re.escape, words))
                                   ) if words else None
        self._known: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        known = self._known.get(name)
        if known is None:
            known = (self._pattern is not None and name not in NOT_SECRET
                     and self._pattern.search(name_words(name)) is not None)
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
_OPTION = re.compile(r"(--?)([A-Za-z][\w.-]*)(=.*)?", re.DOTALL)
# Secrets recognised by their shape wherever they appear (spec section 7): a URL's
# password, a bearer token, GitHub, AWS and Slack tokens, JSON Web Tokens.
_SHAPES = re.compile(
    r"(?<=[A-Za-z0-9])(?P<url>://[^/\s:@]*:)[^/\s@]+(?=@)"
    r"|(?P<bearer>\b(?i:bearer)\s+)[\w.~+/=-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*")
SHAPE_MIN = 7  # no shape fits in fewer characters (`a://:x@`)


def may_hold_shape(text: str) -> bool:
    """Whether `text` holds what every secret shape holds: most strings do not, and skip
    the regular expression, which costs far more than these checks."""
    return len(text) >= SHAPE_MIN and (
        "://" in text or "eyJ" in text or "AKIA" in text or "ASIA" in text or "xox" in text
        or "earer" in text or "EARER" in text or ("_" in text and "gh" in text))


def scrub(text: str, secret_values: Iterable[str]) -> str:
    """`text` with every secret value and every secret-shaped word in it replaced by
    <redacted>: free text (an exception message, a command-line word) has no redacted
    node of its own."""
    for secret in secret_values:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SHAPES.sub(_hide_shape, text) if may_hold_shape(text) else text


def _hide_shape(found: re.Match) -> str:
    return (found["url"] or found["bearer"] or "") + REDACTED


def redact_argv(argv: Iterable[str], secrets: SecretNames,
                secret_values: Iterable[str] = ()) -> list[str]:
    """A command line with the value of every option whose name looks secret redacted
    (`--api-key=<redacted>`, or the word after `--password`), and secrets scrubbed."""
    secret_values = tuple(secret_values)
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        option = _OPTION.fullmatch(arg)
        if option and secrets(option[2]):
            if option[3] is None:
                hide_next = True
            else:
                arg = f"{option[1]}{option[2]}={REDACTED}"
        out.append(scrub(arg, secret_values))
    return out


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
            if self.secret_values and self._leaks(obj):
                return [C.V_REDACTED, self._tsid(tp)]
            if may_hold_shape(obj):
                obj = _SHAPES.sub(_hide_shape, obj)
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
        if self.secret_values and self._leaks(text):
            return [C.V_REDACTED, self._tsid(tp)]
        if may_hold_shape(text):
            text = _SHAPES.sub(_hide_shape, text)
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
