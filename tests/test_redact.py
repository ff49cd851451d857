"""Secret detection and redaction. Every fake secret is assembled at run time, so that no
literal credential (not even a fake one) sits in the repository to trip secret scanners."""

from __future__ import annotations

import json
import random
import string

import pytest

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
