"""The plain-string checks a traced process runs as it starts (orion/agent/values.py) give
the answers of the regular expressions they replaced, which stay here as the reference:
the agent no longer imports `re` for them, so the two must not drift apart."""

from __future__ import annotations

import os
import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orion.agent.config import DEFAULT_SECRETS
from orion.agent.values import (SecretNames, _may_hold_header, is_short_password, name_words,
                                option_parts)

CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SEPARATORS = re.compile(r"[\s_.-]+")
OPTION = re.compile(r"(--?)([A-Za-z][\w.-]*)(=.*)?", re.DOTALL)
HEADER_HINT = re.compile(r"[A-Za-z0-9]-[A-Za-z0-9-]*:|(?i:authorization|cookie):")
NOT_A_NAME = re.compile(r"[^A-Za-z_.-]")

# What names, options and header lines are made of, with the characters at the edges of
# each rule (digits, separators, `=`, `:`, blanks, a non-ASCII letter and digit).
TEXT = st.text(st.sampled_from("aAbBzZ09_.-=: \t\u00e9\u0663xXkKeEyY"), max_size=24)
NAMES = st.one_of(TEXT, st.sampled_from(["authToken", "HTTPServer", "AUTH-TOKEN", "auth.token",
                                         "db_password", "author", "X-Api-Key", "apiKEY2x"]))


def words_by_regex(name: str) -> str:
    return SEPARATORS.sub("_", CAMEL.sub("_", name)).strip("_").lower()


@settings(max_examples=2000)
@given(NAMES)
def test_name_words_split_as_the_regex_did(name):
    assert name_words(name) == words_by_regex(name)


@settings(max_examples=1000)
@given(NAMES)
def test_secret_names_match_as_the_regex_did(name):
    words = sorted({words_by_regex(w) for w in DEFAULT_SECRETS if w.strip()})
    pattern = re.compile(r"(?:^|_)(?:%s)(?:_|$)" % "|".join(map(re.escape, words)))
    expected = name not in ("PWD", "OLDPWD") and pattern.search(words_by_regex(name)) is not None
    assert SecretNames(DEFAULT_SECRETS)(name) == expected


@settings(max_examples=2000)
@given(st.one_of(TEXT, TEXT.map(lambda t: "-" + t), TEXT.map(lambda t: "--" + t)))
def test_options_parse_as_the_regex_did(word):
    found = OPTION.fullmatch(word)
    expected = None if found is None else (found[2], None if found[3] is None else found[3][1:])
    assert option_parts(word) == expected


@settings(max_examples=2000)
@given(st.one_of(TEXT, st.sampled_from(["Authorization: x", "COOKIE: a", "x: X-Api-Key: 1",
                                        ":a-b:", "PATH=/usr/bin:/bin", "--a:"])))
def test_the_header_hint_finds_what_the_regex_found(text):
    assert _may_hold_header(text) == (HEADER_HINT.search(text) is not None)


@given(TEXT)
def test_short_passwords_are_told_from_names_as_the_regex_did(word):
    assume(not os.path.exists(word))
    expected = not (word.startswith("-") or word.isdigit() or "/" in word or ":" in word) \
        and NOT_A_NAME.search(word) is not None
    assert is_short_password(word) == expected
