"""Decide what may be recorded: secret detection and redaction for captured state.

Why this module exists
----------------------
runstate records the execution state of a run -- environment variables, git remotes, package
URLs -- and keeps it forever in an append-only store that is shared with a team and compared
across runs. Anything written there must be safe to show to everyone who can read the store.
A secret must therefore never be stored: not in clear, and not hashed either (a hash of a short
or structured secret can be brute-forced, and a hash still proves which secret was used).
Redaction replaces the value by the constant :data:`REDACTED`, so a diff still shows that a
secret variable was *present* without revealing anything about it.

Detection is deliberately biased towards false positives: wrongly redacting a harmless
variable costs a little diff precision, leaking a token costs a credential rotation.

Constraints
-----------
This module is a leaf: it imports only the standard library and nothing from ``runstate``,
because ``env.py`` loads it by file path inside foreign interpreters (other virtualenvs,
other Python versions) where runstate is not installed. Keep it importable on old Pythons:
annotations are strings (``from __future__ import annotations``) and no 3.10+ runtime API
is used.

Speed: the capture bootstrap judges the child's environment at exit, in every captured
process, where ``import re`` alone costs ~6 ms and compiling these patterns ~2 ms more. So
nothing is imported or compiled at import time: each regular expression is guarded by a
literal that every match must contain (``"://"``, ``"sk-"``, ...), the word splitting and
token runs of the high-entropy check are plain string operations, and the patterns are
compiled on first use only, i.e. only when a value could match. Ordinary values (paths,
locales, numbers) are therefore judged without ``re``. The results are those of the plain
regular expressions, which ``tests/test_redact.py`` checks against a reference copy.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_ENV_PATTERNS",
    "REDACTED",
    "is_secret_name",
    "is_secret_value",
    "redact_argv",
    "redact_environ",
    "redact_params",
    "scrub_text",
    "strip_url_credentials",
]

#: The placeholder stored instead of a secret value. Constant, so it carries no information.
REDACTED = "<redacted>"

#: Environment variables worth recording by default: the ones that change what numerical,
#: ML and data code does (thread pools, devices, determinism switches, locale, time zone,
#: interpreter flags). Everything else in the environment is noise at best and a leak at
#: worst, so capture is allow-list based.
#: Variables that match a pattern but belong to another dimension: PYTHONHASHSEED is part of
#: the ``seeds`` component, so a seed change does not also look like an environment change.
NOT_ENV: frozenset[str] = frozenset({"PYTHONHASHSEED"})

DEFAULT_ENV_PATTERNS: tuple[str, ...] = (
    "PYTHON*",
    "OMP_*",
    "MKL_*",
    "OPENBLAS_*",
    "BLIS_*",
    "VECLIB_*",
    "NUMEXPR_*",
    "NUMBA_*",
    "CUDA_*",
    "CUBLAS_*",
    "CUDNN_*",
    "NVIDIA_*",
    "TF_*",
    "TORCH_*",
    "XLA_*",
    "JAX_*",
    "HF_*",
    "TOKENIZERS_*",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "VIRTUAL_ENV",
    "CONDA_*",
    "SPARK_*",
    "PYSPARK_*",
    "JAVA_HOME",
    "KMP_*",
    "MALLOC_*",
    "SOURCE_DATE_EPOCH",
    "PATH",
)

# Substrings of variable names that mark a secret. Matching is by substring on purpose:
# ``MY_APITOKEN``, ``DB_PASSWORD_FILE`` or ``AWS_SECRET_ACCESS_KEY`` must all be caught, and
# an occasional false positive (``KEYBOARD_LAYOUT``) only costs one redacted value.
_SECRET_NAME_PARTS: tuple[str, ...] = (
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PWD",
    "CREDENTIAL",
    "CREDS",
    "AUTH",
    "BEARER",
    "PRIVATE",
    "SESSION",
    "COOKIE",
    "SIGNATURE",
    "DSN",
    "CONN",
    "ACCESS_KEY",
)

# Names that contain a marker above but are well known not to hold a secret. ``PWD`` and
# ``OLDPWD`` are directories; ``TOKENIZERS_PARALLELISM`` is a Hugging Face switch that changes
# results and is covered by the default ``TOKENIZERS_*`` pattern, so hiding it would defeat
# the point of capturing it. Their *values* are still checked by :func:`is_secret_value`.
_NOT_SECRET_NAMES: frozenset[str] = frozenset({"PWD", "OLDPWD", "TOKENIZERS_PARALLELISM"})

# ``scheme://user:password@`` anywhere in a value. The password part may be empty; the greedy
# userinfo runs to the *last* ``@`` of the authority, so an unencoded ``@`` in a password
# cannot leave half of it behind. A match contains ``://`` (and ``@``).
_URL_USERINFO_PATTERN = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@"

# Well-known credential formats, each with the literals one of which every match contains
# (the pattern is only run on values holding one). The look-behinds stop ``disk-...`` or
# ``task-...`` from matching ``sk-``.
_KNOWN_SECRET_PATTERNS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("AKIA", "ASIA"), r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])"),  # AWS key id
    (("gh",), r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    (("github_pat_",), r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}"),  # fine-grained PAT
    (("sk-",), r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"),  # OpenAI/Anthropic-style keys
    (("xox",), r"(?<![A-Za-z0-9_])xox[abporse]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    (("hf_",), r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"),  # Hugging Face tokens
    (("AIza",), r"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}"),  # Google API keys
    (("eyJ",), r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\."),  # JWT header.payload.
    (("-----BEGIN ",), r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"),  # PEM private keys
)

# URL query parameters whose value is a credential (pre-signed URLs, ``?token=``). Only
# looked for in values that contain ``://``.
_QUERY_PARAM_PATTERN = r"[?&;](?P<name>[A-Za-z0-9_.-]+)=(?P<value>[^&;#\s]*)"

# A token for :func:`scrub_text`: a run of anything but whitespace, quotes and brackets.
_SCRUB_TOKEN_PATTERN = r"[^\s'\"<>()\[\]{},;]+"

# The high-entropy check, without ``re``: values are split into words at whitespace (what
# ``\s`` and ``str.split()`` both call whitespace: ``Py_UNICODE_ISSPACE``) and ``:;,``; in
# words of >= 32 characters, maximal runs of ``_TOKEN_CHARS`` of >= 32 are tested, which is
# what ``re.findall(r"[A-Za-z0-9+/=_-]{32,}", word)`` returns.
_WORD_SEPARATORS = ":;,"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
_MIN_TOKEN_LENGTH = 32
_MIN_ENTROPY_BITS = 4.0


class _Compiled:
    """The regular expressions, compiled together on first use (see the module docstring)."""

    def __init__(self) -> None:
        import re

        self.url_userinfo = re.compile(_URL_USERINFO_PATTERN)
        self.known_secrets = tuple(
            (markers, re.compile(pattern)) for markers, pattern in _KNOWN_SECRET_PATTERNS
        )
        self.query_param = re.compile(_QUERY_PARAM_PATTERN)
        self.scrub_token = re.compile(_SCRUB_TOKEN_PATTERN)


_compiled: _Compiled | None = None


def _rx() -> _Compiled:
    global _compiled
    if _compiled is None:
        _compiled = _Compiled()
    return _compiled


def _matches_known_secret(text: str) -> bool:
    """Whether a well-known credential format occurs in *text* (regexes run only when one of
    their literals occurs)."""
    for markers, _pattern in _KNOWN_SECRET_PATTERNS:
        if any(marker in text for marker in markers):
            break
    else:
        return False
    return any(
        rx.search(text)
        for markers, rx in _rx().known_secrets
        if any(marker in text for marker in markers)
    )


def is_secret_name(name: str) -> bool:
    """Return True when an environment variable *name* suggests that its value is secret.

    The name alone decides here; ``DATABASE_URL`` is not a secret name, but its value may be
    a credentialed URL, which :func:`is_secret_value` catches.
    """
    upper = name.upper()
    if upper in _NOT_SECRET_NAMES:
        return False
    return any(part in upper for part in _SECRET_NAME_PARTS)


def _shannon_entropy(text: str) -> float:
    """Bits of information per character of *text*, from its own character frequencies."""
    if not text:
        return 0.0
    import math  # here, not at module level: most captures never get this far (see above)
    from collections import Counter

    length = len(text)
    return -sum((n / length) * math.log2(n / length) for n in Counter(text).values())


def _mixes_letters_and_digits(text: str) -> bool:
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def _is_high_entropy_token(text: str, min_length: int = 32) -> bool:
    """A random-looking token: long, letters *and* digits, >= 4 bits of entropy per char.

    Hex digests (16 symbols, at most 4.0 bits/char and in practice below) and words stay
    under the threshold, which is what keeps git commits and ordinary values recordable.
    """
    return (
        len(text) >= min_length
        and _mixes_letters_and_digits(text)
        and _shannon_entropy(text) >= _MIN_ENTROPY_BITS
    )


def _is_token_like_user(user: str) -> bool:
    """Whether the user part of ``scheme://user@host`` is itself a credential.

    ``https://ghp_xxx@github.com/...`` or ``https://<40 random chars>@host`` carry a token as
    the user name; ``ssh://git@host`` or ``https://alice@host`` do not.
    """
    if _matches_known_secret(user):
        return True
    return len(user) >= 20 and _mixes_letters_and_digits(user) and _shannon_entropy(user) >= 3.5


def _has_url_credentials(value: str) -> bool:
    if "@" not in value or "://" not in value:
        return False
    for match in _rx().url_userinfo.finditer(value):
        userinfo = match.group("userinfo")
        if ":" in userinfo or _is_token_like_user(userinfo):
            return True
    return False


def _has_secret_query_param(value: str) -> bool:
    if "://" not in value:
        return False
    return any(
        m.group("value") and is_secret_name(m.group("name"))
        for m in _rx().query_param.finditer(value)
    )


def _is_path_like(word: str) -> bool:
    """Absolute, home-relative, dot-relative or Windows paths are locations, not secrets."""
    return word.startswith(("/", "~", "./", "../", "\\")) or (
        len(word) > 2 and word[1] == ":" and word[2] in "\\/"
    )


def _long_words(value: str) -> list[str]:
    """The words of >= 32 characters of *value*, split at whitespace and ``:;,``.

    Same words as ``re.split(r"[\\s:;,]+", value)`` would give, minus the short ones.
    """
    words: list[str] = []
    for chunk in value.split():
        if len(chunk) < _MIN_TOKEN_LENGTH:
            continue
        for sep in _WORD_SEPARATORS[1:]:
            chunk = chunk.replace(sep, _WORD_SEPARATORS[0])
        words.extend(w for w in chunk.split(_WORD_SEPARATORS[0]) if len(w) >= _MIN_TOKEN_LENGTH)
    return words


def _token_runs(word: str) -> list[str]:
    """Maximal runs of ``_TOKEN_CHARS`` of >= 32 characters in *word*, left to right."""
    runs: list[str] = []
    start = 0
    for end, char in enumerate(word):
        if char not in _TOKEN_CHARS:
            if end - start >= _MIN_TOKEN_LENGTH:
                runs.append(word[start:end])
            start = end + 1
    if len(word) - start >= _MIN_TOKEN_LENGTH:
        runs.append(word[start:])
    return runs


def is_secret_value(value: str) -> bool:
    """Return True when *value* looks like a credential, whatever its variable is called.

    Checks, cheapest first: credentialed URLs (``scheme://user:pass@host``, or a token used as
    the user), well-known key formats (AWS, GitHub, ``sk-`` API keys, Slack, Hugging Face,
    Google, JWTs, PEM private keys), secret-named URL query parameters (``?token=``,
    ``X-Amz-Signature=``) and finally long high-entropy tokens. Path-like words (``/opt/...``,
    ``~/...``) are never treated as high-entropy tokens: a ``PATH`` or ``CONDA_PREFIX`` must
    stay readable.
    """
    if not value:
        return False
    if _has_url_credentials(value):
        return True
    if _matches_known_secret(value):
        return True
    if _has_secret_query_param(value):
        return True
    if len(value) < _MIN_TOKEN_LENGTH:
        return False
    for word in _long_words(value):
        if _is_path_like(word):
            continue
        if any(_is_high_entropy_token(run) for run in _token_runs(word)):
            return True
    return False


def _strip_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    if ":" in userinfo or _is_token_like_user(userinfo):
        return match.group("scheme")
    return match.group(0)


def _redact_query_param(match: re.Match[str]) -> str:
    if match.group("value") and is_secret_name(match.group("name")):
        start = match.start("value") - match.start(0)
        return match.group(0)[:start] + REDACTED
    return match.group(0)


def strip_url_credentials(url: str) -> str:
    """Remove credentials from *url* and keep everything needed to identify the resource.

    ``https://user:tok@host/x`` becomes ``https://host/x``; ``https://<token>@host/x`` loses
    the token user; ``ssh://git@host/x`` keeps its harmless ``git@``; scp-style
    ``git@github.com:org/repo.git`` is not a URL with a scheme and is returned unchanged.
    Values of secret-named query parameters (``?token=...``, ``&X-Amz-Signature=...``) are
    replaced by :data:`REDACTED`. Every URL inside *url* is processed, so a space-separated
    list of index URLs is handled too.
    """
    if "://" not in url:
        return url
    stripped = _rx().url_userinfo.sub(_strip_userinfo, url) if "@" in url else url
    if "=" in stripped:
        stripped = _rx().query_param.sub(_redact_query_param, stripped)
    return stripped


def _name_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A ``fnmatchcase``-style predicate matching any of *patterns*.

    The usual patterns are names (``LANG``) or prefixes (``OMP_*``): those are matched with
    a set and ``str.startswith``, which is exactly what their ``fnmatch`` translations
    (``(?s:LANG)\\Z``, ``(?s:OMP_.*)\\Z``) match, without importing ``re``. Any other glob
    (``?``, ``[...]``, an inner ``*``) makes the whole set one regex: one ``match`` call per
    name instead of one per pattern.
    """
    unique = list(dict.fromkeys(patterns))
    exact: set[str] = set()
    prefixes: list[str] = []
    for pattern in unique:
        body = pattern[:-1] if pattern.endswith("*") else pattern
        if any(c in body for c in "*?["):
            break  # not a name or a prefix: use regexes for all
        if pattern.endswith("*"):
            prefixes.append(body)
        else:
            exact.add(pattern)
    else:
        starts = tuple(prefixes)
        return lambda name: name in exact or name.startswith(starts)
    import fnmatch
    import re

    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in unique))
    return lambda name: regex.match(name) is not None


def redact_environ(
    environ: Mapping[str, str], include: Iterable[str] = DEFAULT_ENV_PATTERNS
) -> dict[str, str]:
    """Keep the variables matching an *include* pattern, with secret values redacted.

    Patterns are :mod:`fnmatch` globs matched case-sensitively (``fnmatchcase`` semantics),
    so the result does not depend on the operating system. A value is replaced by
    :data:`REDACTED` when its name *or* its value looks secret; the original is never stored,
    nor any digest of it. The result is sorted by name so that its JSON encoding is stable.
    """
    matcher = _name_matcher(include)
    kept: dict[str, str] = {}
    for name in sorted(environ):
        if not matcher(name) or name in NOT_ENV:
            continue
        value = environ[name]
        kept[name] = REDACTED if is_secret_name(name) or is_secret_value(value) else value
    return kept


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with secret arguments replaced by :data:`REDACTED`.

    Catches ``--password hunter2``, ``--api-token=abc``, ``-p`` is left alone (too common),
    and any argument whose value itself looks like a secret (credentialed URLs, key formats).
    """
    out: list[str] = []
    secret_flag = False
    for arg in argv:
        if secret_flag and not arg.startswith("-"):
            out.append(REDACTED)
            secret_flag = False
            continue
        secret_flag = False
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            if is_secret_name(flag.lstrip("-")) or is_secret_value(value):
                out.append(f"{flag}={REDACTED}")
                continue
            out.append(arg)
        elif arg.startswith("--") and is_secret_name(arg.lstrip("-")):
            out.append(arg)
            secret_flag = True
        elif is_secret_value(arg):
            out.append(REDACTED)
        else:
            out.append(arg)
    return out


def redact_params(params: Mapping[str, object]) -> dict[str, object]:
    """Params as stored: values under secret-looking names or with secret-looking values
    are replaced by :data:`REDACTED` (the program still sees the real value)."""
    stored: dict[str, object] = {}
    for name, value in params.items():
        secret = is_secret_name(name) or (isinstance(value, str) and is_secret_value(value))
        stored[name] = REDACTED if secret else value
    return stored


def scrub_text(text: str) -> str:
    """Free text (a stderr tail, an error message) with secret-looking tokens redacted."""
    return _rx().scrub_token.sub(
        lambda m: REDACTED if is_secret_value(m.group()) else m.group(), text
    )
