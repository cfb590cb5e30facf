"""Secrets never reach the file: not through exception messages, not through argv."""

from __future__ import annotations

import pytest

from orion.agent.values import DEFAULT_SECRETS, SecretNames, scrub
from orion.format.summary import read_summary

from .agent_helpers import HOOKS, clean_env, python, raw_bytes, records, run, traces

SECRET = "supersecretvalue123"
FAILS = """\
import os
def work(n):
    raise RuntimeError("boom " + os.environ["MY_API_TOKEN"])
work(1)
"""


@pytest.mark.parametrize("mode", ["dev", "safe", "error"])
def test_secret_values_and_options_are_scrubbed_from_messages_and_argv(tmp_path, spool, mode):
    program = tmp_path / "app.py"
    program.write_text(FAILS)
    result = run([python(), "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(program),
                  f"--api-key={SECRET}", "--password", "hunter99", "-auth-token", "tok42",
                  "--verbose", "plain"],
                 env=clean_env(MY_API_TOKEN=SECRET))
    assert result.returncode == 1, result.stderr
    (path,) = traces(spool)
    data = raw_bytes(path)  # every record, header and trailer included
    assert SECRET.encode() not in data
    assert b"hunter99" not in data and b"tok42" not in data
    recs = records(path)
    (crash,) = [r for r in recs if r["type"] == "crash"]
    assert crash["message"] == "boom <redacted>"
    assert [r["message"] for r in recs if r["type"] == "exception"] == ["boom <redacted>"]
    summary = read_summary(path)
    assert summary["exception"]["message"] == "boom <redacted>"
    assert summary["command"][2:] == ["--api-key=<redacted>", "--password", "<redacted>",
                                      "-auth-token", "<redacted>", "--verbose", "plain"]
    (header,) = [r for r in recs if r["type"] == "header"]
    assert header["process"]["argv"] == summary["command"]


def test_secret_words_match_whole_words_of_a_name():
    secret = SecretNames(DEFAULT_SECRETS)
    for name in ("db_password", "authToken", "AUTH_HEADER", "api-key", "apiKey", "x.token",
                 "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "passphrase", "GITHUB_TOKEN"):
        assert secret(name), name
    for name in ("author", "PWD", "OLDPWD", "max_tokens", "TOKENIZERS_PARALLELISM", "path"):
        assert not secret(name), name


@pytest.mark.parametrize("text, expected", [
    ("postgres://user:pw@host/db", "postgres://user:<redacted>@host/db"),
    ("redis://:s3cret@cache:6379", "redis://:<redacted>@cache:6379"),
    ("see https://host:8080/a@b", "see https://host:8080/a@b"),
    ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer <redacted>"),
    ("ghp_" + "a1" * 18 + " and github_pat_" + "B2_" * 8, "<redacted> and <redacted>"),
    ("key AKIAIOSFODNN7EXAMPLE", "key <redacted>"),
    ("xoxb-1234-5678-abcdefgh", "<redacted>"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3In0.dozjgNryP4J3jVmN", "jwt <redacted>"),
    ("a plain sentence, no secret", "a plain sentence, no secret"),
])
def test_secret_shapes_are_scrubbed_from_free_text(text, expected):
    assert scrub(text, ()) == expected


URL = "postgres://app:pg-pass-77@db.internal/app"
GITHUB = "ghp_" + "Zq9" * 12
SHAPES = f"""\
import os, sys
def connect(url, author, authToken):
    raise ConnectionError("cannot reach " + url + " with Bearer " + authToken)
def main():
    settings = os.path.join(os.getcwd(), "settings.toml")
    connect(os.environ["DB_URL"], "Jane Doe", os.environ["GITHUB_TOKEN"])
main()
"""


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("mode", ["dev", "error"])
def test_pwd_stays_and_secret_shapes_go(tmp_path, mode, hook):
    """The working directory (PWD) is no secret: it stays in the command, the paths and the
    snapshot; URL passwords and tokens are redacted in values, messages, argv and env."""
    (tmp_path / "app.py").write_text(SHAPES)
    spool = tmp_path / "spool"
    done = run([python(), "-m", "orion", "run", "--mode", mode, "--spool", str(spool), "--",
                python(), str(tmp_path / "app.py"), URL],
               env=clean_env(PWD=str(tmp_path), OLDPWD=str(tmp_path.parent), DB_URL=URL,
                             GITHUB_TOKEN=GITHUB, ORION_ENV_ALLOW="DB_URL,OLDPWD",
                             ORION_HOOK=hook), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (path,) = traces(spool)
    data = raw_bytes(path)
    assert b"pg-pass-77" not in data and GITHUB.encode() not in data
    assert str(tmp_path).encode() in data
    recs = records(path)
    header = recs[0]
    assert header["process"]["argv"][1:] == [str(tmp_path / "app.py"),
                                             "postgres://app:<redacted>@db.internal/app"]
    variables = header["env"]["vars"]
    assert variables["PWD"] == str(tmp_path) and variables["OLDPWD"] == str(tmp_path.parent)
    assert variables["DB_URL"] == "postgres://app:<redacted>@db.internal/app"
    assert variables["GITHUB_TOKEN"] == {"t": "str", "redacted": True}
    message = ("cannot reach postgres://app:<redacted>@db.internal/app with Bearer <redacted>")
    (crash,) = [r for r in recs if r["type"] == "crash"]
    assert crash["message"] == message
    assert read_summary(path)["exception"]["message"] == message
    frames = [r for r in recs if r["type"] == "stack"][-1]["frames"]
    local = frames[-1]["locals"]
    assert local["author"] == "Jane Doe" and local["authToken"] == {"t": "str", "redacted": True}
    assert local["url"] == "postgres://app:<redacted>@db.internal/app"
    assert frames[-2]["locals"]["settings"] == str(tmp_path / "settings.toml")


LOGIN = """\
def check(password):
    return password == "right"

def test_login():
    password = "hunter2secret"
    assert check(password), f"login failed for {password}"
"""


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_a_redacted_local_leaks_through_no_message(tmp_path, mode):
    """The value of a secret-named local, redacted in the locals, is scrubbed from the
    exception message and pytest's assertion text in every record of the trace."""
    (tmp_path / "test_login.py").write_text(LOGIN)
    spool = tmp_path / "spool"
    done = run([python(), "-m", "orion", "run", "--mode", mode, "--spool", str(spool), "--",
                python(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_login.py"],
               cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "hunter2secret" in done.stdout  # pytest's own report is the program's: untouched
    found = traces(spool)
    assert found
    for path in found:
        assert b"hunter2secret" not in raw_bytes(path)
    messages = [r["message"] for path in found for r in records(path)
                if r["type"] in ("exception", "crash") and r.get("exc_type", r.get("reason"))
                == "AssertionError"]
    assert messages and all("login failed for <redacted>" in m for m in messages), messages


PASSES_ON = """\
def check(candidate):
    return candidate == "right"

def login(user, password):
    return check(password)

login("ada", "hunter2secret")
"""


@pytest.mark.parametrize("hook", HOOKS)
def test_a_redacted_value_is_redacted_wherever_it_goes_next(tmp_path, hook):
    """Once an argument named `password` is redacted, its value passed on under another
    name (`candidate`) is redacted too, by the C hook as by the Python one."""
    (tmp_path / "app.py").write_text(PASSES_ON)
    spool = tmp_path / "spool"
    done = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                str(tmp_path / "app.py")], env=clean_env(ORION_HOOK=hook))
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    assert b"hunter2secret" not in raw_bytes(path)
    calls = [r for r in records(path) if r["type"] == "call" and r.get("args")]
    assert {"t": "str", "redacted": True} in [r["args"].get("candidate") for r in calls]


SHAPED = {  # innocent names, secret-shaped values
    "url": "redis://:cache-pass-91@cache:6379/0",
    "header": "Bearer abc.def-ghi_jkl",
    "github": "ghs_" + "Q7" * 15,
    "aws": "AKIA" + "Z" * 12 + "7777",
    "slack": "xoxp-1234-5678-abcdef",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3In0.c2lnbmF0dXJl",
}


@pytest.mark.parametrize("hook", HOOKS)
def test_secret_shaped_arguments_are_scrubbed_by_either_hook(tmp_path, hook):
    """The C hook packs short strings itself: one that may hold a shape goes to Python."""
    (tmp_path / "app.py").write_text(
        "def use(value):\n    return len(value)\n"
        f"for value in {list(SHAPED.values())!r}:\n    use(value)\n")
    spool = tmp_path / "spool"
    done = run([python(), "-m", "orion.agent", "--mode", "dev", "--spool", str(spool),
                str(tmp_path / "app.py")], env=clean_env(ORION_HOOK=hook))
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    data = raw_bytes(path)
    for value in SHAPED.values():
        secret = value.rsplit(":", 1)[0].rsplit("@", 1)[0][-8:]
        assert value.encode() not in data and secret.encode() not in data, value
    args = [r["args"]["value"] for r in records(path) if r["type"] == "call" and r.get("args")]
    assert "redis://:<redacted>@cache:6379/0" in args and "Bearer <redacted>" in args
    assert args.count("<redacted>") == 4
