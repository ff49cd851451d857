"""Secret detection and redaction. Every fake secret is assembled at run time, so that no
literal credential (not even a fake one) sits in the repository to trip secret scanners."""

from __future__ import annotations

import fnmatch
import json
import random
import re
import string
import subprocess
import sys

import pytest

from runstate.state import redact
from runstate.state.redact import (
    DEFAULT_ENV_PATTERNS,
    REDACTED,
    is_secret_name,
    is_secret_value,
    redact_environ,
    strip_url_credentials,
)


def _random_token(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    rng = random.Random(1234 + length)
    while True:
        token = "".join(rng.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
            return token


def _fake_secrets() -> dict[str, str]:
    """Realistic shapes of real credentials, none of them valid."""
    return {
        "aws_key_id": "AKIA" + "X" * 16,
        "aws_temp_key_id": "ASIA" + "7" * 8 + "Q" * 8,
        "github_classic": "ghp_" + _random_token(36),
        "github_oauth": "gho_" + _random_token(36),
        "github_fine_grained": "github_pat_" + _random_token(22) + "_" + _random_token(59),
        "openai_like": "sk-" + _random_token(48),
        "openai_project": "sk-proj-" + _random_token(40),
        "slack": "xox" + "b-" + "1234567890-" + _random_token(24),
        "huggingface": "hf_" + _random_token(34),
        "jwt": "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + "." + "sig",
        "pem": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
        "high_entropy": _random_token(40),
        "base64_with_slash": _random_token(20) + "/" + _random_token(19) + "+",
        "bearer_header": "Bearer " + "sk-" + _random_token(30),
        "credentialed_url": "postgresql://scorer:" + _random_token(12) + "@db.internal:5432/x",
        "token_user_url": "https://" + "ghp_" + _random_token(36) + "@github.com/org/r.git",
        "presigned_url": "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=" + "ab12" * 16,
    }


@pytest.mark.parametrize("kind", sorted(_fake_secrets()))
def test_fake_secret_values_are_detected(kind: str) -> None:
    assert is_secret_value(_fake_secrets()[kind])


@pytest.mark.parametrize(
    "value",
    [
        "/home/alice/project/.venv/bin:/usr/local/bin:/usr/bin:/bin",
        "/opt/conda/envs/train-2024-gpu-a100-cuda12-cudnn9/lib/python3.11/site-packages",
        "~/models/bert-base-uncased-finetuned-sst2-2024-05-17-v3",
        "en_US.UTF-8",
        "4",
        "UTC",
        "false",
        ":4096:8",  # CUBLAS_WORKSPACE_CONFIG
        "0,1,2,3",
        "3f2b5c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",  # a git commit (hex)
        "https://pypi.org/simple",
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "",
    ],
)
def test_ordinary_values_are_not_secrets(value: str) -> None:
    assert not is_secret_value(value)


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "HF_TOKEN",
        "my_api_token",
        "DB_PASSWORD",
        "SMTP_PASSWD",
        "MYSQL_PWD",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "HTTP_AUTHORIZATION",
        "SSH_PRIVATE_KEY_PATH",
        "SESSION_ID",
        "SENTRY_DSN",
        "REDIS_CONN",
        "COOKIE_JAR",
        "REQUEST_SIGNATURE",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["PWD", "OLDPWD", "DATABASE_URL", "PATH", "LANG", "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM"],
)
def test_non_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_environ_keeps_only_patterns_and_redacts_secrets() -> None:
    secrets = _fake_secrets()
    environ = {
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "TZ": "UTC",
        "OMP_NUM_THREADS": "4",
        "PATH": "/usr/local/bin:/usr/bin",
        "VIRTUAL_ENV": "/home/alice/project/.venv",
        "HF_TOKEN": secrets["huggingface"],
        "HF_HOME": "/data/hf",
        "TORCH_HOME": secrets["aws_key_id"],  # secret value under a harmless name
        "CUDA_CACHE_PATH": secrets["credentialed_url"],
        "RUNSTATE_RUN_ID": "01a216d8-f582-751f-a6e8-6879207fcdb5",  # runstate's own: dropped
        "PYTHONHASHSEED": "7",  # part of the seeds component, not env: dropped
        "TOKENIZERS_PARALLELISM": "false",
        "AWS_SECRET_ACCESS_KEY": secrets["base64_with_slash"],  # not matched: dropped
        "HOME": "/home/alice",  # not matched: dropped
    }
    out = redact_environ(environ)
    assert out == {
        "CUDA_CACHE_PATH": REDACTED,
        "HF_HOME": "/data/hf",
        "HF_TOKEN": REDACTED,
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "OMP_NUM_THREADS": "4",
        "PATH": "/usr/local/bin:/usr/bin",
        "TOKENIZERS_PARALLELISM": "false",
        "TORCH_HOME": REDACTED,
        "TZ": "UTC",
        "VIRTUAL_ENV": "/home/alice/project/.venv",
    }
    assert list(out) == sorted(out)
    dumped = json.dumps(out)
    for secret in secrets.values():
        assert secret not in dumped


def test_redact_environ_extra_patterns_and_no_patterns() -> None:
    url = "postgresql://scorer:" + _random_token(16) + "@db.internal/prod"
    environ = {"DATABASE_URL": url, "LANG": "C"}
    assert redact_environ(environ, (*DEFAULT_ENV_PATTERNS, "DATABASE_URL")) == {
        "DATABASE_URL": REDACTED,
        "LANG": "C",
    }
    assert redact_environ(environ, ()) == {}


def test_patterns_are_case_sensitive_globs() -> None:
    assert redact_environ({"lang": "C", "LANG": "C"}, ["LANG"]) == {"LANG": "C"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@host/x", "https://host/x"),
        ("https://user:p@ss@host/x", "https://host/x"),
        ("https://alice@host/x", "https://alice@host/x"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("file:///home/alice/src/pkg", "file:///home/alice/src/pkg"),
        ("https://h/x?token=abc&page=2", f"https://h/x?token={REDACTED}&page=2"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


def test_strip_url_credentials_token_user_and_secret_password() -> None:
    token = "ghp_" + _random_token(36)
    assert strip_url_credentials(f"https://{token}@github.com/o/r.git") == (
        "https://github.com/o/r.git"
    )
    password = _random_token(24)
    stripped = strip_url_credentials(f"https://u:{password}@a.example/x https://b.example/y")
    assert password not in stripped
    assert stripped == "https://a.example/x https://b.example/y"


# --- the regex-free fast paths give the answers of the plain regular expressions ----------
#
# redact.py avoids ``import re`` for ordinary values (see its docstring): regexes are run only
# on values that contain one of their literals, and words and token runs are found with str
# methods. The reference below is the straightforward regex implementation it replaced.

_REF_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@")
_REF_KNOWN = tuple(
    re.compile(p)
    for p in (
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])",
        r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}",
        r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}",
        r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}",
        r"(?<![A-Za-z0-9_])xox[abporse]-[A-Za-z0-9-]{10,}",
        r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}",
        r"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}",
        r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----",
    )
)
_REF_QUERY = re.compile(r"[?&;](?P<name>[A-Za-z0-9_.-]+)=(?P<value>[^&;#\s]*)")
_REF_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_REF_WORD_SPLIT = re.compile(r"[\s:;,]+")


def _ref_token_user(user: str) -> bool:
    if any(rx.search(user) for rx in _REF_KNOWN):
        return True
    return (
        len(user) >= 20
        and redact._mixes_letters_and_digits(user)
        and redact._shannon_entropy(user) >= 3.5
    )


def _ref_is_secret_value(value: str) -> bool:
    if not value:
        return False
    if "@" in value:
        for match in _REF_URL_USERINFO.finditer(value):
            userinfo = match.group("userinfo")
            if ":" in userinfo or _ref_token_user(userinfo):
                return True
    if any(rx.search(value) for rx in _REF_KNOWN):
        return True
    if "://" in value and any(
        m.group("value") and is_secret_name(m.group("name")) for m in _REF_QUERY.finditer(value)
    ):
        return True
    for word in _REF_WORD_SPLIT.split(value):
        if len(word) < 32 or redact._is_path_like(word):
            continue
        if any(redact._is_high_entropy_token(run) for run in _REF_TOKEN_RUN.findall(word)):
            return True
    return False


def _ref_strip_url_credentials(url: str) -> str:
    def strip(match: re.Match[str]) -> str:
        userinfo = match.group("userinfo")
        if ":" in userinfo or _ref_token_user(userinfo):
            return match.group("scheme")
        return match.group(0)

    def query(match: re.Match[str]) -> str:
        if match.group("value") and is_secret_name(match.group("name")):
            return match.group(0)[: match.start("value") - match.start(0)] + REDACTED
        return match.group(0)

    if "://" not in url:
        return url
    stripped = _REF_URL_USERINFO.sub(strip, url) if "@" in url else url
    return _REF_QUERY.sub(query, stripped) if "=" in stripped else stripped


_FRAGMENTS = (
    "://", "@", ":", ";", ",", "/", "~", "./", "=", "?", "&", "#", " ", "\t", "\n", "\u00a0",
    "\u2003", "\x1c", "https", "user", "sk-", "ghp_", "github_pat_", "AKIA", "ASIA", "eyJ",
    "hf_", "xoxb-", "AIza", "-----BEGIN RSA PRIVATE KEY-----", "token", "X-Amz-Signature",
    "é", "٣", "C:\\", "-", "_", "+", ".",
)  # fmt: skip


def _random_value(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 8)):
        if rng.random() < 0.5:
            parts.append(rng.choice(_FRAGMENTS))
        else:
            alphabet = string.ascii_letters + string.digits + rng.choice(["", "+/=_-", "é٣"])
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 45))))
    return "".join(parts)


def test_fast_paths_agree_with_the_plain_regexes() -> None:
    rng = random.Random(20261126)
    values = [_random_value(rng) for _ in range(4000)]
    values += list(_fake_secrets().values())
    values += [f"{s} and {s}" for s in _fake_secrets().values()]
    for value in values:
        assert is_secret_value(value) == _ref_is_secret_value(value), repr(value)
        assert strip_url_credentials(value) == _ref_strip_url_credentials(value), repr(value)
    assert sum(map(_ref_is_secret_value, values)) > 500  # the sample exercises both answers


def test_str_split_whitespace_is_regex_whitespace() -> None:
    """The word split relies on ``str.split()`` and ``\\s`` agreeing on every code point."""
    space = re.compile(r"\s")
    for code in range(0x110000):
        char = chr(code)
        assert (space.match(char) is not None) == char.isspace(), hex(code)


def test_token_runs_are_the_regex_runs() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        word = "".join(
            rng.choice(string.ascii_letters + "+/=_-" + "0123456789" + ".:é ")
            for _ in range(rng.randint(0, 120))
        )
        assert redact._token_runs(word) == _REF_TOKEN_RUN.findall(word), repr(word)


@pytest.mark.parametrize(
    "patterns",
    [
        DEFAULT_ENV_PATTERNS,
        ("LANG", "LC_*", "*"),
        ("A?C", "LANG"),  # one real glob: the regex path for all
        ("[AB]*", "X*Y", "**"),
        (),
    ],
)
def test_name_matcher_is_fnmatchcase(patterns: tuple[str, ...]) -> None:
    rng = random.Random(3)
    names = ["LANG", "LANGUAGE", "lang", "LC_ALL", "LC_", "ABC", "AXC", "A\nC", "XY", "X_Y", ""]
    names += [
        "".join(rng.choice("ABCLXY_\n*") for _ in range(rng.randint(0, 6))) for _ in range(300)
    ]
    match = redact._name_matcher(patterns)
    for name in names:
        assert match(name) == any(fnmatch.fnmatchcase(name, p) for p in patterns), (name, patterns)


def test_ordinary_environment_needs_no_regex() -> None:
    """Importing redact.py and judging an ordinary environment must not import ``re``."""
    code = (
        "import sys\n"
        "sys.modules['re'] = None  # any import of re now fails\n"
        "from importlib.machinery import SourceFileLoader\n"
        f"loader = SourceFileLoader('r', {redact.__file__!r})\n"
        "mod = type(sys)('r')\n"
        "loader.exec_module(mod)\n"
        "env = {'PATH': '/usr/local/bin:/usr/bin', 'LANG': 'C.UTF-8', 'OMP_NUM_THREADS': '4',\n"
        "       'VIRTUAL_ENV': '/home/alice/project/.venv', 'HOME': '/root', 'TZ': 'UTC',\n"
        "       'PYTHONPATH': 'src:/opt/lib', 'CUDA_VISIBLE_DEVICES': '0,1'}\n"
        "print(sorted(mod.redact_environ(env)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PATH" in proc.stdout
