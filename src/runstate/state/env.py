"""Capture the *env* dimension: interpreter, platform, hardware, packages, threads, locale.

Why: "same code, same data, different result" is most often an environment change -- a
package upgraded by a transitive dependency, a BLAS thread count, another CPU or GPU driver, a
locale that parses ``1,5`` differently. The capture is JSON-safe and float-free (only
str/int/bool/None/list/dict), so its canonical encoding and component id are stable.

It runs in-process as ``runstate.state.env``, and as a probe of *another* interpreter:
``<python> -I /path/to/env.py`` prints the capture as JSON (launcher, ``replay --env``). That
interpreter has no runstate, so this file imports only the standard library, loads
:mod:`redact` from its own directory, and avoids 3.10+ runtime APIs.

Speed: the capture bootstrap loads this file by path at the exit of every captured Python
process (the launcher's direct child), where the user waits for it, so a warm capture must
cost a few milliseconds *including* its imports. At module level it imports only ``os``,
``sys`` and ``time``, which every interpreter has loaded at start-up: ``typing``, ``re``,
``json``, ``hashlib``, ``platform``, ``locale``, ``pathlib`` and ``shutil`` would cost ~30 ms
together in a process that has not imported them. What is slow to compute is cached in
``cache_dir``, one JSON file per kind and key, and what must stay live is computed without
those modules:

* ``packages`` (reading every distribution's metadata: ~25 ms), keyed by
  :func:`env_cache_key`, which changes whenever a ``sys.path`` directory changes (installing,
  upgrading or removing a distribution bumps its directory's mtime);
* ``machine``: the Python version and implementation, pointer size, ``platform`` facts (OS,
  kernel, libc, ``/etc/os-release``) and the CPU model, keyed by everything they are computed
  from (see :func:`_machine_cache_key`), including the boot id on Linux;
* ``gpus``: one ``nvidia-smi`` call can exceed the whole budget; keyed by boot id and driver.

Live on every call, cheaply: ``sys`` facts, CPU count and affinity, memory, thread variables,
locale, time zone, ``env_vars``. The cached values are what the live computation returns:
without ``cache_dir`` everything is computed afresh, and the tests compare the two.

Measured in fresh processes (CPython 3.11.7, Linux, 125 distributions, byte code cached;
median of 15), loading this file included: warm 2.6 ms (29.5 ms before the module level was
trimmed and the machine facts cached), cold ~65 ms as before (importlib.metadata, platform,
subprocess and tempfile are imported then, and only then).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    import types
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from importlib.metadata import Distribution
    from typing import Any

__all__ = ["capture_env", "env_cache_key"]


def _exec_file(name: str, path: str) -> types.ModuleType:
    """Execute the Python file *path* as a fresh module *name*, not put in ``sys.modules``.

    A bare ``SourceFileLoader`` (byte code is cached as for any import) instead of
    ``importlib.util``, which imports contextlib, functools and types: ~3 ms at exit. The
    module's ``__package__`` is ``""``, so a relative import in it fails with ImportError.
    """
    from importlib.machinery import SourceFileLoader

    loader = SourceFileLoader(name, path)
    module = type(sys)(name)
    module.__file__ = path
    module.__loader__ = loader
    module.__package__ = ""
    loader.exec_module(module)
    return module


def _load_sibling_redact() -> types.ModuleType:
    """Load ``redact.py`` from this file's directory, for runs outside the runstate package."""
    here = os.path.dirname(os.path.realpath(__file__))
    return _exec_file("_runstate_state_redact", os.path.join(here, "redact.py"))


if TYPE_CHECKING:
    from runstate.state import redact as _redact
else:
    # Prefer the sibling of *this* file over whatever runstate a foreign interpreter may have
    # installed: redaction rules must come from the same version as the capture code.
    try:
        from . import redact as _redact
    except ImportError:  # run as a script or loaded by path: no parent package
        _redact = _load_sibling_redact()

_CACHE_FORMAT = 1  # bump when the layout of a cached payload changes
_CACHE_KEEP = 32  # cache files kept per kind (one per interpreter/sys.path state)

#: Variables read by BLAS/OpenMP/numexpr/numba/TF/polars thread pools when they start.
THREAD_ENV_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OMP_DYNAMIC", "OMP_PROC_BIND", "OMP_PLACES",
    "MKL_NUM_THREADS", "MKL_DYNAMIC", "MKL_THREADING_LAYER", "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS",
    "NUMBA_NUM_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME", "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS", "POLARS_MAX_THREADS", "RAYON_NUM_THREADS",
)  # fmt: skip

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
_OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")  # platform's candidates


def _blake2b_16() -> Any:
    """``hashlib.blake2b(digest_size=16)``: the same object, from ``_blake2`` when it exists
    (``import hashlib`` loads OpenSSL's bindings: ~3 ms)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - _blake2 is part of every CPython since 3.6
        from hashlib import blake2b
    return blake2b(digest_size=16)


# --- machine facts: slow to compute, cached (see _machine_cache_key) ---------------------------


def _machine_info() -> dict[str, Any]:
    """What :func:`capture_env` caches per interpreter and boot: ``platform`` and /proc."""
    import platform
    import struct

    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "pointer_bits": struct.calcsize("P") * 8,
        },
        "platform": _platform_info(),
        "cpu_model": _cpu_model(),
    }


def _valid_machine_info(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("python"), dict)
        and set(payload["python"]) == {"version", "implementation", "pointer_bits"}
        and isinstance(payload.get("platform"), dict)
        and "cpu_model" in payload
    )


def _platform_info() -> dict[str, Any]:
    import platform

    # platform.libc_ver() asks os.confstr first (instant on glibc). platform.processor() is
    # deliberately not called: on Linux it spawns ``uname -p``.
    libc_name, libc_version = platform.libc_ver()
    os_release = getattr(platform, "freedesktop_os_release", None)  # Python >= 3.10
    try:
        pretty = os_release().get("PRETTY_NAME") if os_release else None
    except OSError:
        pretty = None
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "libc": {"name": libc_name or None, "version": libc_version or None},
        "os_release": pretty,
    }


def _cpu_model() -> str | None:
    if sys.platform.startswith("linux"):
        keys = ("model name", "Processor", "cpu model", "Hardware", "cpu")
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                for line in fh:  # stop at the first hit: the file is long on big machines
                    key, sep, value = line.partition(":")
                    if sep and key.strip() in keys and value.strip():
                        return value.strip()
        except OSError:
            pass
        return None
    import platform

    return platform.processor() or None


def _boot_id() -> bytes | None:
    try:
        with open(_BOOT_ID_PATH, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _stat_signature(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"{path}\0error {exc.errno}"
    return f"{path}\0{st.st_dev}\0{st.st_ino}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}"


def _machine_cache_key(boot_id: bytes | None) -> str | None:
    """Key of the machine cache: every input of :func:`_machine_info`, or None (no cache).

    * Python version, implementation, pointer size: ``sys.executable``, ``sys.version``,
      ``sys.maxsize``, and the executable's inode/size/mtime (a rebuild in place);
    * ``platform.system/release/machine``: ``os.uname()`` and ``sys.platform``;
    * libc: ``os.confstr("CS_GNU_LIBC_VERSION")``, which ``platform.libc_ver()`` parses, or
      else the executable it scans (above);
    * ``/etc/os-release``: inode/size/mtime of both files ``platform`` reads;
    * CPU model: the boot id on Linux (a CPU changes only across a reboot, e.g. a VM moved to
      another host), ``os.uname()`` elsewhere (``uname -p``). Without ``os.uname`` (Windows),
      or on Linux without a boot id, nothing is cached.
    """
    uname = getattr(os, "uname", None)
    if uname is None or (boot_id is None and sys.platform.startswith("linux")):
        return None
    try:
        libc: str | None = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        libc = None
    parts = [
        f"machine-format={_CACHE_FORMAT}",
        sys.executable,
        sys.version,
        sys.platform,
        str(sys.maxsize),
        repr(tuple(uname())),
        repr(libc),
        repr(boot_id),
        _stat_signature(sys.executable),
        *(_stat_signature(path) for path in _OS_RELEASE_PATHS),
    ]
    h = _blake2b_16()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return str(h.hexdigest())


# --- live facts ----------------------------------------------------------------------------


def _python_info(static: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "version": static["version"],
        "implementation": static["implementation"],
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "in_venv": sys.prefix != sys.base_prefix,
        "abiflags": getattr(sys, "abiflags", ""),
        "cache_tag": sys.implementation.cache_tag,
        "pointer_bits": static["pointer_bits"],
    }


def _memory_bytes() -> int | None:
    try:
        # Text as ``open(encoding="ascii", errors="replace")`` would give, lines as its
        # universal newlines would split; without the text layer's codec lookup, which
        # imports ``encodings.ascii`` (~0.3 ms).
        with open("/proc/meminfo", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _which(name: str) -> str | None:
    """``shutil.which(name)`` for a bare command name, without importing shutil (~8 ms with
    its compression modules): the same search of ``PATH`` (``CS_PATH`` when unset) on POSIX.
    """
    if sys.platform == "win32":  # PATHEXT and the current directory: let shutil do it
        import shutil

        return shutil.which(name)
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen: set[str] = set()
    for folder in path.split(os.pathsep):
        if folder in seen:
            continue
        seen.add(folder)
        candidate = os.path.join(folder, name)
        if (
            os.path.exists(candidate)
            and os.access(candidate, os.F_OK | os.X_OK)
            and not os.path.isdir(candidate)
        ):
            return candidate
    return None


def _query_gpus() -> list[dict[str, Any]]:
    exe = _which("nvidia-smi")
    if exe is None:
        return []
    import subprocess

    cmd = [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    gpus: list[dict[str, Any]] = []
    for line in proc.stdout.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3 and fields[0]:
            name, mem, driver = fields[0], (fields[1].split() or [""])[0], fields[2]
            memory_mb = int(mem) if mem.isdigit() else None
            gpus.append({"name": name, "memory_mb": memory_mb, "driver": driver or None})
    return gpus


def _gpu_cache_key(boot_id: bytes | None) -> str | None:
    """GPUs only change across a reboot or a driver reload: key on both, Linux only."""
    if boot_id is None or _which("nvidia-smi") is None:
        return None
    try:
        with open("/proc/driver/nvidia/version", "rb") as fh:
            driver = fh.read()
    except OSError:
        return None
    h = _blake2b_16()
    h.update(boot_id + b"\0" + driver)
    return str(h.hexdigest())


def _hardware_info(
    cache_dir: str | None, cpu_model: str | None, boot_id: bytes | None
) -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    except OSError:
        affinity = None
    gpu_key = _gpu_cache_key(boot_id) if cache_dir else None
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "memory_bytes": _memory_bytes(),
        "gpus": _cached(cache_dir, "gpus", gpu_key, _query_gpus, _is_list),
    }


def _threads_info(environ: Mapping[str, str]) -> dict[str, Any]:
    # numpy's BLAS introspection (threadpoolctl, np.show_config) is not cheap and would
    # import numpy; the variables below are what the BLAS libraries read at load time.
    out: dict[str, Any] = {}
    for name in THREAD_ENV_VARS:
        value = environ.get(name)
        out[name] = _redact.REDACTED if value and _redact.is_secret_value(value) else value
    return out


def _preferred_encoding() -> str:
    """``locale.getpreferredencoding(False)``, without importing :mod:`locale` (it imports
    ``re``: ~7 ms) where that is safe.

    Since 3.11 that call is ``"utf-8"`` in UTF-8 mode and ``locale.getencoding()`` otherwise,
    which is ``_locale.getencoding`` when the C module has it (read in the 3.11 to 3.13
    sources). Older versions, and ``-X warn_default_encoding`` (whose EncodingWarning the
    real call emits), ask :mod:`locale` itself.
    """
    if sys.version_info >= (3, 11) and not sys.flags.warn_default_encoding:
        if sys.flags.utf8_mode:
            return "utf-8"
        try:
            from _locale import getencoding
        except ImportError:
            pass
        else:
            return getencoding()
    import locale

    return locale.getpreferredencoding(False)


def _locale_info(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        "lang": environ.get("LC_ALL") or environ.get("LANG") or None,
        "preferred_encoding": _preferred_encoding(),
        "filesystem_encoding": sys.getfilesystemencoding(),
    }


def _localtime_zone() -> str | None:
    """The IANA name from ``/etc/localtime -> .../zoneinfo/Europe/Paris``, or None.

    ``os.path.realpath`` is what ``Path.resolve()`` runs (pathlib costs ~10 ms to import);
    before 3.13, ``resolve()`` then also turned a symlink loop into a RuntimeError, which
    gave None: so does the ELOOP check below.
    """
    target = os.path.realpath("/etc/localtime")
    if sys.version_info < (3, 13):
        try:
            os.stat(target)
        except OSError as exc:
            import errno

            if exc.errno == errno.ELOOP:
                return None
    if os.sep != "/":
        target = target.replace(os.sep, "/")  # Path.as_posix()
    if "/zoneinfo/" in target:
        return target.split("/zoneinfo/", 1)[1]
    return None


def _timezone_info(environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        zone = _localtime_zone()
    except (OSError, RuntimeError):
        zone = None
    return {
        "tz_env": environ.get("TZ"),
        "name": list(time.tzname),
        "zone": zone,
        "utc_offset_seconds": int(time.localtime().tm_gmtoff),
    }


# --- packages: slow to compute, cached (see env_cache_key) ------------------------------------


def _direct_url(dist: Distribution) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(dist.read_text("direct_url.json") or "null")
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(data, dict):
        return None
    # Foreign JSON may hold anything: keep only strings/bools (and never a float).
    vcs_info = v if isinstance(v := data.get("vcs_info"), dict) else {}
    dir_info = d if isinstance(d := data.get("dir_info"), dict) else {}
    url, vcs, commit = data.get("url"), vcs_info.get("vcs"), vcs_info.get("commit_id")
    return {
        "url": _redact.strip_url_credentials(url) if isinstance(url, str) else None,
        "vcs": vcs if isinstance(vcs, str) else None,
        "commit_id": commit if isinstance(commit, str) else None,
        "editable": dir_info.get("editable") is True,
    }


def _name_and_version(dist: Distribution) -> tuple[str | None, str | None]:
    """Read ``Name``/``Version`` from the metadata header only.

    ``dist.metadata`` runs the email parser over the whole file, long description included;
    the header lines are all we need, and reading them by hand halves a cold capture.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line or len(fields) == 2:
            break  # a blank line ends the header block
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    return fields.get("Name"), fields.get("Version")


def _collect_packages() -> dict[str, Any]:
    import importlib.metadata
    import re

    name_run = re.compile(r"[-_.]+")  # PEP 503: ``Foo_Bar`` and ``foo-bar`` are one name
    packages: dict[str, Any] = {}
    # distributions() walks sys.path in order, so the first hit for a name is the copy that
    # ``import`` would load; later duplicates (shadowed installs) are ignored.
    for dist in importlib.metadata.distributions():
        try:
            name, version = _name_and_version(dist)
        except (OSError, UnicodeDecodeError):
            continue
        key = name_run.sub("-", name or "").lower()
        if not key or key in packages:
            continue
        entry: dict[str, Any] = {"version": version}
        direct = _direct_url(dist)
        if direct is not None:
            entry["direct_url"] = direct
        packages[key] = entry
    return dict(sorted(packages.items()))


def _absolute_path_text(entry: str) -> str:
    """``str(Path(entry or os.curdir).absolute())``, without importing pathlib on POSIX.

    pathlib keeps ``..`` (so the key stats what ``import`` would use), drops ``.`` and empty
    components and keeps a leading ``//`` (POSIX gives it a meaning of its own).
    """
    if os.sep != "/":
        from pathlib import Path

        return str(Path(entry or os.curdir).absolute())
    path = entry or os.curdir
    if not path.startswith("/"):
        path = os.getcwd() + "/" + path
    rest = path.lstrip("/")
    root = "//" if len(path) - len(rest) == 2 else "/"
    return root + "/".join(part for part in rest.split("/") if part and part != ".")


def env_cache_key() -> str:
    """Key of the packages cache for this interpreter and its current ``sys.path`` state.

    Covers the executable, ``sys.version`` and, for every existing ``sys.path`` entry, its
    path, ``st_mtime_ns`` and ``st_ino`` (a directory recreated at the same path gets a new
    inode). Adding, removing or replacing a distribution changes its directory's mtime, hence
    the key; an entry that starts to exist changes the key too.
    """
    h = _blake2b_16()
    for part in (f"format={_CACHE_FORMAT}", sys.executable, sys.version):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for entry in sys.path:
        path = _absolute_path_text(entry)
        try:
            st = os.stat(path)
        except OSError:
            continue
        h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_ino}\0".encode("utf-8", "surrogateescape"))
    return str(h.hexdigest())


# --- the cache -----------------------------------------------------------------------------


_JSON_CONSTANTS = {"-Infinity": -float("inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _ScannerContext:
    """The settings a default ``json.JSONDecoder()`` hands to the C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _JSON_CONSTANTS.__getitem__


def _json_loads(text: str) -> Any:
    """``json.loads(text)`` without importing :mod:`json`, whose decoder imports ``re``
    (~7 ms: most of a warm capture's budget).

    It runs the C scanner that ``json.loads`` itself runs (``_json.make_scanner``, with the
    settings of a default ``JSONDecoder``), so the values are the same; anything invalid is
    a ValueError, as with ``json``. Interpreters without ``_json`` use :mod:`json`.
    """
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - CPython always has _json
        import json

        return json.loads(text)
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM")  # json.loads refuses it too
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        # typeshed types the context as a make_scanner; any object with these attributes works
        value, end = make_scanner(_ScannerContext)(text, start)  # type: ignore[arg-type]
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    if text[end:].strip(" \t\n\r"):
        raise ValueError(f"Extra data: char {end}")
    return value


def _write_cache(path: str, key: str, payload: object) -> None:
    """Write atomically (temp file in the same dir, fsync, rename): concurrent runs see no
    file or a whole one, never a torn write. A failure only costs the next run a cold capture.
    """
    import json
    import tempfile

    folder = os.path.dirname(path)
    tmp_path: str | None = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": _CACHE_FORMAT, "key": key, "payload": payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        tmp_path = None
        _prune_cache(folder, os.path.basename(path).rsplit("-", 1)[0] + "-")
    except OSError:
        pass
    finally:
        if tmp_path is not None:
            try:
                os.unlink(tmp_path)
            except OSError:
                pass


def _prune_cache(cache_dir: str, prefix: str) -> None:
    """Keep the newest cache files: every venv and every install leaves one behind."""
    try:
        names = [n for n in os.listdir(cache_dir) if n.startswith(prefix) and n.endswith(".json")]
        paths = sorted(
            (os.path.join(cache_dir, n) for n in names), key=lambda p: os.stat(p).st_mtime_ns
        )
        for path in paths[:-_CACHE_KEEP]:
            os.unlink(path)
    except OSError:
        pass


def _is_dict(payload: Any) -> bool:
    return isinstance(payload, dict)


def _is_list(payload: Any) -> bool:
    return isinstance(payload, list)


def _cached(
    cache_dir: str | None,
    kind: str,
    key: str | None,
    compute: Callable[[], Any],
    valid: Callable[[Any], bool],
) -> Any:
    """``compute()``, through ``cache_dir/env-<kind>-<key>.json`` when a cache is usable.

    A missing, corrupt, foreign-key or invalid (``valid(payload)`` false) cache file is
    ignored and rewritten.
    """
    if not cache_dir or key is None:
        return compute()
    path = os.path.join(cache_dir, f"env-{kind}-{key}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = _json_loads(fh.read())
    except (OSError, ValueError, RecursionError):
        doc = None
    fresh = isinstance(doc, dict) and (doc.get("format"), doc.get("key")) == (_CACHE_FORMAT, key)
    if fresh and valid(doc.get("payload")):
        return doc["payload"]
    value = compute()
    _write_cache(path, key, value)
    return value


def capture_env(
    cache_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
    extra_env_patterns: Sequence[str] = (),
) -> dict[str, Any]:
    """Capture the environment of *this* interpreter as a JSON-safe dict.

    *environ* (default :data:`os.environ`; the launcher passes the child's) is read for the
    thread, locale and time zone settings and for ``env_vars``: the variables matching
    :data:`redact.DEFAULT_ENV_PATTERNS` + *extra_env_patterns*, secrets as ``<redacted>``.
    With *cache_dir*, the machine facts, packages and GPUs are cached there (see the module
    docstring); the result is the same as without.
    """
    env = os.environ if environ is None else environ
    patterns: Iterable[str] = tuple(_redact.DEFAULT_ENV_PATTERNS) + tuple(extra_env_patterns)
    boot_id = _boot_id()
    machine_key = _machine_cache_key(boot_id) if cache_dir else None
    machine = _cached(cache_dir, "machine", machine_key, _machine_info, _valid_machine_info)
    return {
        "python": _python_info(machine["python"]),
        "platform": machine["platform"],
        "hardware": _hardware_info(cache_dir, machine["cpu_model"], boot_id),
        "packages": _cached(
            cache_dir,
            "packages",
            env_cache_key() if cache_dir else None,
            _collect_packages,
            _is_dict,
        ),
        "threads": _threads_info(env),
        "locale": _locale_info(env),
        "timezone": _timezone_info(env),
        "env_vars": _redact.redact_environ(env, patterns),
    }


if __name__ == "__main__":
    import json

    # Probe mode: ``<python> -I env.py``. Without -I, Python puts this file's directory first
    # on sys.path; drop it so the capture describes the interpreter, not where we live.
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or os.curdir) == here:
        del sys.path[0]
    print(json.dumps(capture_env(), sort_keys=True))
