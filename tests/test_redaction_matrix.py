"""The redaction matrix (issue 17): the same secrets planted in every place a program can
hold them, in every mode and every agent, must never reach a trace's bytes nor any output
command; values that only look like secrets must survive.

Each agent runs one program of its language (`orion run`, as a user runs it) with:

- on the command line: `--password X`, `-p X`, `--token=X`, a URL with `user:X@`;
- in the environment: DATABASE_URL with a password, GH_PAT=ghp_…, an AWS key pair,
  selected for the snapshot through ORION_ENV_ALLOW (a user may allow them);
- in an exception message (a C++ what(), a Go panic, a Node or Python error): the command
  line's password, DATABASE_URL, a URL whose query has `session=` and `cookie=`, and the
  header lines `Authorization: Bearer …`, `Cookie: sid=…` and `X-Api-Key: …`;
- as values (agents that capture them): an argument named `password`, one named `token`,
  a headers map with `Authorization`, the URL password passed on as `pw`, and return
  values holding the AWS secret key and the GitHub token.

and with what must survive: `PWD`, `TOKENIZERS_PARALLELISM=false`, a path, `-p 8080` and
`-p xdist` on the command line, `author` and ordinary words (`password reset email sent`) as values,
the message's own words, its URL's `?page=2` and an `X-Request-Id` header line.

A leak is a planted secret found in the raw bytes of a trace (every zstd frame decompressed
here, every skippable frame read as it is) or in what an output command prints; a false
redaction is a survivor missing where that output shows its kind of data. Both must be 0.
A new agent joins by adding an Agent to AGENTS (Rust is being built: its program goes
next to the others, with the same places).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import zstandard
from click.testing import CliRunner

from orion.cli import cli

# -- what is planted -----------------------------------------------------------------------

ARGV_PASSWORD = "argv-long-1Qa2Ws"
ARGV_SHORT = "argv-short-3Ed4Rf"
ARGV_TOKEN = "argv-eq-5Tg6Yh"
ARGV_URL_PASSWORD = "argv-url-7Uj8Ik"
DB_PASSWORD = "db-pass-2Wx4Ec"
GITHUB_TOKEN = "ghp_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78"
AWS_KEY_ID = "AKIAQ3EGRTY5MZXW7P2L"
AWS_SECRET = "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"
ARG_PASSWORD = "pw-arg-7Hq2xZ"
ARG_TOKEN = "tk-arg-9Vb3nQ"
HEADER_BEARER = "bearer-hdr-3Jd8Wq"
MESSAGE_BEARER = "bearer-exc-4Kp9Lm"
MESSAGE_COOKIE = "ck-msg-6Yh7Uj"
MESSAGE_API_KEY = "ak-msg-2Ws3Ed"
QUERY_SESSION = "qs-sess-5Rt6Yu"
QUERY_COOKIE = "qs-cook-8Io9Pa"

ARGV = ["--password", ARGV_PASSWORD, "-p", ARGV_SHORT, f"--token={ARGV_TOKEN}",
        f"https://deploy:{ARGV_URL_PASSWORD}@git.example.com/repo.git", "-p", "8080",
        "-p", "xdist", "/srv/app/config/settings.toml"]
DATABASE_URL = f"postgres://app:{DB_PASSWORD}@db.internal:5432/app"
QUERY_URL = f"https://api.test/items?page=2&session={QUERY_SESSION}&cookie={QUERY_COOKIE}"
ENVIRONMENT = {
    "DATABASE_URL": DATABASE_URL, "GH_PAT": GITHUB_TOKEN, "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "TOKENIZERS_PARALLELISM": "false",
    "ORION_ENV_ALLOW": "DATABASE_URL,GH_PAT,AWS_*,TOKENIZERS_PARALLELISM",
}
# The exception message every program builds: "login failed for jane: password <argv's>
# rejected by <DATABASE_URL> at <QUERY_URL>" and the header lines of HEADERS.
HEADERS = ("\\nAuthorization: Bearer MESSAGE_BEARER\\nCookie: sid=MESSAGE_COOKIE"
           "\\nX-Api-Key: MESSAGE_API_KEY\\nX-Request-Id: req-77")

# Places of data, as outputs show them and agents hold them.
ARGV_KIND, ENV_KIND, MESSAGE_KIND, VALUES_KIND = "argv", "env", "message", "values"

SECRETS = {
    ARGV_KIND: [ARGV_PASSWORD, ARGV_SHORT, ARGV_TOKEN, ARGV_URL_PASSWORD],
    ENV_KIND: [DB_PASSWORD, GITHUB_TOKEN, AWS_KEY_ID, AWS_SECRET],
    MESSAGE_KIND: [MESSAGE_BEARER, MESSAGE_COOKIE, MESSAGE_API_KEY, QUERY_SESSION, QUERY_COOKIE],
    VALUES_KIND: [ARG_PASSWORD, ARG_TOKEN, HEADER_BEARER],
}


@dataclass(frozen=True)
class Survivor:
    label: str
    pattern: str  # a regular expression over the output's text (or the trace's bytes)
    kind: str


def survivors(cwd: Path) -> list[Survivor]:
    return [
        Survivor("a path argument", re.escape("/srv/app/config/settings.toml"), ARGV_KIND),
        Survivor("-p 8080", r"-p\W{1,8}8080", ARGV_KIND),
        Survivor("-p xdist", r"-p\W{1,8}xdist", ARGV_KIND),
        Survivor("PWD", r"PWD\W{1,8}" + re.escape(str(cwd)), ENV_KIND),
        Survivor("TOKENIZERS_PARALLELISM=false", r"TOKENIZERS_PARALLELISM\W{1,8}false", ENV_KIND),
        Survivor("the message's words", "login failed for jane", MESSAGE_KIND),
        Survivor("?page=2", re.escape("?page=2&session="), MESSAGE_KIND),
        Survivor("an innocent header", "X-Request-Id: req-77", MESSAGE_KIND),
        Survivor("author", "Jane Austen", VALUES_KIND),
        Survivor("ordinary words", "password reset email sent", VALUES_KIND),
    ]


# -- the programs ----------------------------------------------------------------------------

PYTHON_PROGRAM = """\
import os, sys
from urllib.parse import urlparse

def aws_secret():
    return os.environ["AWS_SECRET_ACCESS_KEY"]

def github_pat():
    return os.environ["GH_PAT"]

def call_api(endpoint, token, headers):
    return len(headers)

def connect(url, pw):
    raise PermissionError(f"login failed for jane: password {sys.argv[2]} rejected by {url} "
                          "at QUERY_URL" "HEADERS")

def settings(author, notice, config_path, parallel, password):
    aws_secret()
    github_pat()
    call_api("https://api.test", "ARG_TOKEN", {"Authorization": "Bearer HEADER_BEARER"})
    url = os.environ["DATABASE_URL"]
    connect(url, urlparse(url).password)

settings("Jane Austen", "password reset email sent", sys.argv[-1],
         os.environ["TOKENIZERS_PARALLELISM"], "ARG_PASSWORD")
"""

CXX_PROGRAM = r"""
#include <cstdlib>
#include <stdexcept>
#include <string>
static void connect(const std::string &url, const char *password) {
    throw std::runtime_error("login failed for jane: password " + std::string(password) +
                             " rejected by " + url + " at QUERY_URL" "HEADERS");
}
int main(int argc, char **argv) {
    connect(std::getenv("DATABASE_URL"), argc > 2 ? argv[2] : "");
    return 0;
}
"""

C_PROGRAM = r"""
#include <stdlib.h>
static void fail(void) { abort(); }
int main(void) { fail(); return 0; }
"""

GO_PROGRAM = """\
package main

import (
	"errors"
	"net/url"
	"os"
)

func awsSecret() string { return os.Getenv("AWS_SECRET_ACCESS_KEY") }

func githubPat() string { return os.Getenv("GH_PAT") }

func callAPI(endpoint, token string, headers map[string]string) int { return len(headers) }

func connect(raw, pw string) {
	panic(errors.New("login failed for jane: password " + os.Args[2] + " rejected by " + raw +
		" at QUERY_URL" + "HEADERS"))
}

func settings(author, notice, configPath, parallel, password string) {
	awsSecret()
	githubPat()
	callAPI("https://api.test", "ARG_TOKEN", map[string]string{"Authorization": "Bearer HEADER_BEARER"})
	raw := os.Getenv("DATABASE_URL")
	parsed, _ := url.Parse(raw)
	pw, _ := parsed.User.Password()
	connect(raw, pw)
}

func main() {
	settings("Jane Austen", "password reset email sent", os.Args[len(os.Args)-1],
		os.Getenv("TOKENIZERS_PARALLELISM"), "ARG_PASSWORD")
}
"""

NODE_PROGRAM = """\
'use strict';
function awsSecret() { return process.env.AWS_SECRET_ACCESS_KEY; }
function githubPat() { return process.env.GH_PAT; }
function callApi(endpoint, token, headers) { return Object.keys(headers).length; }
function connect(url, pw) {
  throw new Error(`login failed for jane: password ${process.argv[3]} rejected by ${url} ` +
                  'at QUERY_URL' + 'HEADERS');
}
function settings(author, notice, configPath, parallel, password) {
  awsSecret();
  githubPat();
  callApi('https://api.test', 'ARG_TOKEN', { Authorization: 'Bearer HEADER_BEARER' });
  const url = process.env.DATABASE_URL;
  connect(url, new URL(url).password);
}
settings('Jane Austen', 'password reset email sent', process.argv[process.argv.length - 1],
         process.env.TOKENIZERS_PARALLELISM, 'ARG_PASSWORD');
"""


JAVA_PROGRAM = """\
import java.net.URI;
import java.util.Map;

public class App {
    static String[] argv;
    static String awsSecret() { return System.getenv("AWS_SECRET_ACCESS_KEY"); }
    static String githubPat() { return System.getenv("GH_PAT"); }
    static int callApi(String endpoint, String token, Map<String, String> headers) { return headers.size(); }
    static void connect(String url, String pw) {
        throw new IllegalStateException("login failed for jane: password " + argv[1] +
                " rejected by " + url + " at QUERY_URL" + "HEADERS");
    }
    static void settings(String author, String notice, String configPath, String parallel,
                         String password) {
        awsSecret();
        githubPat();
        callApi("https://api.test", "ARG_TOKEN", Map.of("Authorization", "Bearer HEADER_BEARER"));
        String url = System.getenv("DATABASE_URL");
        String userInfo = URI.create(url).getUserInfo();
        connect(url, userInfo.substring(userInfo.indexOf(':') + 1));
    }
    public static void main(String[] args) {
        argv = args;
        settings("Jane Austen", "password reset email sent", args[args.length - 1],
                 System.getenv("TOKENIZERS_PARALLELISM"), "ARG_PASSWORD");
    }
}
"""

RUST_PROGRAM = """\
use std::collections::HashMap;
use std::env;

fn aws_secret() -> String { env::var("AWS_SECRET_ACCESS_KEY").unwrap() }
fn github_pat() -> String { env::var("GH_PAT").unwrap() }
fn call_api(_endpoint: &str, _token: &str, headers: HashMap<&str, &str>) -> usize { headers.len() }
fn connect(url: &str, _pw: &str) {
    let argv: Vec<String> = env::args().collect();
    panic!("login failed for jane: password {} rejected by {} at {}{}", argv[2], url,
           "QUERY_URL", "HEADERS");
}
fn settings(_author: &str, _notice: &str, _config_path: &str, _parallel: &str, _password: &str) {
    aws_secret();
    github_pat();
    call_api("https://api.test", "ARG_TOKEN", HashMap::from([("Authorization", "Bearer HEADER_BEARER")]));
    let url = env::var("DATABASE_URL").unwrap();
    let user_info = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
    connect(&url, user_info.split_once(':').unwrap().1);
}
fn main() {
    let args: Vec<String> = env::args().collect();
    settings("Jane Austen", "password reset email sent", &args[args.len() - 1],
             &env::var("TOKENIZERS_PARALLELISM").unwrap(), "ARG_PASSWORD");
}
"""


def filled(program: str) -> str:
    """A program with the planted values written in."""
    for name in ("HEADERS", "QUERY_URL", "MESSAGE_BEARER", "MESSAGE_COOKIE", "MESSAGE_API_KEY",
                 "ARG_TOKEN", "HEADER_BEARER", "ARG_PASSWORD"):
        program = program.replace(name, globals()[name])
    return program


def orion_run(mode: str, command: list[str], cwd: Path, **settings: str) -> Path:
    """`orion run` the command with the planted arguments and environment (and ORION_*
    `settings`); its one trace."""
    spool = cwd / f"spool-{mode}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(ENVIRONMENT, PWD=str(cwd), **settings)
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--mode", mode, "--spool",
                           str(spool), "--", *command, *ARGV], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    traces = sorted(spool.glob("*.otrace"))
    assert len(traces) == 1, f"{command} in {mode} mode left {traces}: {done.stderr}"
    return traces[0]


def python_agent(work: Path, hook: str) -> Callable[[str], Path]:
    """The Python agent with its C hook (which packs simple values itself) or the
    pure-Python one."""
    program = work / "app.py"
    program.write_text(filled(PYTHON_PROGRAM))
    return lambda mode: orion_run(mode, [sys.executable, str(program)], work, ORION_HOOK=hook)


def native_agent(work: Path, compiler: str, source: str, suffix: str) -> Callable[[str], Path]:
    src = work / f"app{suffix}"
    src.write_text(filled(source))
    exe = work / "app"
    subprocess.run([compiler, "-g", "-O0", "-finstrument-functions", str(src), "-o", str(exe)],
                   check=True)
    return lambda mode: orion_run(mode, [str(exe)], work)


def go_agent(work: Path) -> Callable[[str], Path]:
    (work / "go.mod").write_text("module example.com/matrix\n\ngo 1.21\n")
    (work / "main.go").write_text(filled(GO_PROGRAM))
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--spool", str(work / "build"),
                           "--", "go", "build", "-o", "app", "."], cwd=work, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return lambda mode: orion_run(mode, [str(work / "app")], work)


def node_agent(work: Path) -> Callable[[str], Path]:
    program = work / "app.js"
    program.write_text(filled(NODE_PROGRAM))
    return lambda mode: orion_run(mode, ["node", str(program)], work)


def java_agent(work: Path) -> Callable[[str], Path]:
    """javac -g once; each mode runs `java -cp classes App` in a directory with a pom.xml (a
    Java project, where orion run builds the agent's jar if its sources changed)."""
    (work / "pom.xml").write_text("<project/>\n")
    (work / "App.java").write_text(filled(JAVA_PROGRAM))
    subprocess.run(["javac", "-g", "-d", str(work / "classes"), str(work / "App.java")],
                   check=True)
    return lambda mode: orion_run(mode, ["java", "-cp", str(work / "classes"), "App"], work,
                                  JAVA_TOOL_OPTIONS="")


def rust_agent(work: Path) -> Callable[[str], Path]:
    """A crate run zero-code (`orion run -- cargo run`): cargo builds it through the agent's
    RUSTC_WRAPPER once, into orion's cache; the other modes reuse that build."""
    (work / "Cargo.toml").write_text('[package]\nname = "matrix"\nversion = "0.1.0"\n'
                                     'edition = "2021"\n')
    (work / "src").mkdir()
    (work / "src" / "main.rs").write_text(filled(RUST_PROGRAM))
    return lambda mode: orion_run(mode, ["cargo", "run", "-q", "--offline", "--"], work,
                                  RUST_BACKTRACE="0")


@dataclass(frozen=True)
class Agent:
    name: str
    kinds: frozenset[str]  # the places its programs hold secrets in
    values_modes: frozenset[str]  # the modes in which it captures values
    present: bool
    build: Callable[[Path], Callable[[str], Path]]


ALL = frozenset({ARGV_KIND, ENV_KIND, MESSAGE_KIND, VALUES_KIND})
AGENTS = [
    Agent("python", ALL, frozenset({"dev", "error"}), True, lambda work: python_agent(work, "c")),
    Agent("python, pure-Python hook", ALL, frozenset({"dev", "error"}), True,
          lambda work: python_agent(work, "python")),
    Agent("c", frozenset({ARGV_KIND, ENV_KIND}), frozenset(), bool(shutil.which("gcc")),
          lambda work: native_agent(work, "gcc", C_PROGRAM, ".c")),
    Agent("c++", frozenset({ARGV_KIND, ENV_KIND, MESSAGE_KIND}), frozenset(),
          bool(shutil.which("g++")), lambda work: native_agent(work, "g++", CXX_PROGRAM, ".cpp")),
    Agent("go", ALL, frozenset({"dev", "error"}), bool(shutil.which("go")), go_agent),
    Agent("node", ALL, frozenset({"dev"}), bool(shutil.which("node")), node_agent),
    Agent("java", ALL, frozenset({"dev", "error"}),
          bool(shutil.which("javac") and shutil.which("mvn")), java_agent),
    Agent("rust", ALL, frozenset({"dev"}), bool(shutil.which("cargo")), rust_agent),
]
MODES = ("dev", "safe", "error")

# -- where to look -------------------------------------------------------------------------


def trace_bytes(path: Path) -> bytes:
    """Every byte a trace holds in plain form: the file as it is, then each zstd frame
    decompressed and each skippable frame's content (prelude, trailer) as it is."""
    data = path.read_bytes()
    plain = [data]
    at = 0
    while at + 8 <= len(data):
        magic = int.from_bytes(data[at:at + 4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
            size = int.from_bytes(data[at + 4:at + 8], "little")
            plain.append(data[at + 8:at + 8 + size])
            at += 8 + size
            continue
        reader = zstandard.ZstdDecompressor().decompressobj()
        plain.append(reader.decompress(data[at:]))
        rest = len(reader.unused_data)
        if not reader.eof or len(data) - rest <= at:
            break
        at = len(data) - rest
    return b"\n".join(plain)


@dataclass(frozen=True)
class Output:
    name: str
    args: Callable[[Path, Path], list[str]]  # (trace, scratch directory) -> orion arguments
    kinds: frozenset[str]  # what it shows, so what must survive in it
    script: str | None = None


OUTPUTS = [
    Output("show", lambda t, d: ["show", "--env", "--all", str(t)], ALL),
    Output("show --json", lambda t, d: ["show", "--json", str(t)], ALL),
    Output("cat", lambda t, d: ["cat", str(t)], ALL),
    # replay's `exception` stops at an exception record, which Node and C++ traces may not
    # have (their failure is a crash record): leaks only.
    Output("replay", lambda t, d: ["replay", str(t)], frozenset(),
           "exception\nwhere\nargs\nlocals\nretval\n"),
    Output("list --json", lambda t, d: ["list", "--json", "--spool", str(t.parent)],
           frozenset({MESSAGE_KIND})),
    *(Output(f"export {form}", lambda t, d, form=form: ["export", "--format", form, "-o", "-",
                                                         str(t)], frozenset())
      for form in ("chrome", "otlp", "jaeger", "folded", "speedscope")),
    Output("export otrace", lambda t, d: ["export", "-o", str(d / "copy.otrace"), str(t)], ALL),
    Output("graph", lambda t, d: ["graph", str(t)], frozenset()),
    Output("fingerprint", lambda t, d: ["fingerprint", str(t)], frozenset()),
]


def output_text(output: Output, trace: Path, scratch: Path) -> str:
    result = CliRunner().invoke(cli, output.args(trace, scratch), input=output.script)
    assert result.exit_code in (0, 1), f"{output.name}: {result.output}"
    text = result.output
    copy = scratch / "copy.otrace"
    if copy.exists():
        text += trace_bytes(copy).decode("utf-8", "replace")
        copy.unlink()
    return text


@dataclass
class Tally:
    leaks: list[str]
    false_redactions: list[str]


def check(where: str, text: str, secrets: list[str], expected: list[Survivor],
          tally: Tally) -> None:
    for secret in secrets:
        if secret in text:
            tally.leaks.append(f"{where}: {secret}")
    for survivor in expected:
        if not re.search(survivor.pattern, text):
            tally.false_redactions.append(f"{where}: {survivor.label}")


@pytest.mark.parametrize("agent", [pytest.param(a, id=a.name) for a in AGENTS])
def test_no_secret_leaks_and_no_false_redaction(agent: Agent, tmp_path: Path) -> None:
    if not agent.present:
        pytest.skip(f"no toolchain for the {agent.name} agent")
    run = agent.build(tmp_path)
    tally = Tally([], [])
    planted = [s for kind in agent.kinds for s in SECRETS[kind]]
    for mode in MODES:
        trace = run(mode)
        kinds = agent.kinds if mode in agent.values_modes else agent.kinds - {VALUES_KIND}
        expected = [s for s in survivors(tmp_path) if s.kind in kinds]
        check(f"{mode} raw bytes", trace_bytes(trace).decode("utf-8", "replace"), planted,
              expected, tally)
        for output in OUTPUTS:
            check(f"{mode} {output.name}", output_text(output, trace, tmp_path), planted,
                  [s for s in expected if s.kind in output.kinds], tally)
    print(f"{agent.name}: {len(tally.leaks)} leaks, {len(tally.false_redactions)} false "
          "redactions", *tally.leaks, *tally.false_redactions, sep="\n  ")
    assert (tally.leaks, tally.false_redactions) == ([], [])


# -- the rules the matrix relies on, at their edges (values.py; the other agents mirror it) --

def test_the_word_after_p_is_a_password_unless_a_port_plugin_path_or_name(tmp_path: Path) -> None:
    from orion.agent.values import DEFAULT_SECRETS, SecretNames, redact_argv

    existing = tmp_path / "build"
    existing.mkdir()
    argv = ["-p", "hunter2x", "-p", "8080", "-p", "80:80", "-p", "no:cacheprovider",
            "-p", "/srv/app", "-p", str(existing), "-p", "--verbose", "-p", "xdist",
            "-p", "pytest_cov", "-p", "newdir"]
    assert redact_argv(argv, SecretNames(DEFAULT_SECRETS)) == [
        "-p", "<redacted>", *argv[2:]]


@pytest.mark.parametrize("text, expected", [
    ("https://a.test/x?page=2&session=s3ss10n&cookie=c00k1e",
     "https://a.test/x?page=2&session=<redacted>&cookie=<redacted>"),
    ("/books?author=jane&max_tokens=5", "/books?author=jane&max_tokens=5"),
    ("/cb?access_token=abc.def&state=xyz", "/cb?access_token=<redacted>&state=xyz"),
    ("/go?next=https://u:pw-9876@host/&page=2", "/go?next=https://u:<redacted>@host/&page=2"),
    ("a == b && c", "a == b && c"),
])
def test_secret_named_query_parameters_lose_their_values(text: str, expected: str) -> None:
    from orion.agent.values import scrub

    assert scrub(text, ()) == expected


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic <redacted>"),
    ("Host: a\r\nCookie: sid=abc; theme=dark\r\nX-Api-Key: k-123456\r\nX-Request-Id: 42",
     "Host: a\r\nCookie: <redacted>\r\nX-Api-Key: <redacted>\r\nX-Request-Id: 42"),
    ("authorization: Negotiate YIIabc==", "authorization: Negotiate <redacted>"),
    ("Referer: https://u:pw-1234@h/?page=1", "Referer: https://u:<redacted>@h/?page=1"),
    ("token: expected ')' at 12:30 - retry", "token: expected ')' at 12:30 - retry"),
])
def test_secret_named_header_lines_lose_their_values(text: str, expected: str) -> None:
    from orion.agent.values import scrub

    assert scrub(text, ()) == expected
