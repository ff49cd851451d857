"""Capture the *env* dimension: interpreter, platform, hardware, packages, threads, locale.

Why: "same code, same data, different result" is most often an environment change -- a
package upgraded by a transitive dependency, a BLAS thread count, another CPU or GPU driver, a
locale that parses ``1,5`` differently. The capture is JSON-safe and float-free (only
str/int/bool/None/list/dict), so its canonical encoding and component id are stable.

It runs in-process as ``runstate.state.env``, and as a probe of *another* interpreter:
``<python> -I /path/to/env.py`` prints the capture as JSON (launcher, ``replay --env``). That
interpreter has no runstate, so this file imports only the standard library, loads
:mod:`redact` from its own directory, and avoids 3.10+ runtime APIs.

Speed: it runs on every captured run inside the 150 ms launcher budget. No subprocess except
``nvidia-smi`` (only if present, 5 s timeout); importlib.metadata (~13 ms to import),
subprocess and tempfile are imported lazily: a warm capture needs none of them. Reading every
distribution's metadata is the expensive part, so with ``cache_dir`` the packages section is
cached under :func:`env_cache_key`, which changes whenever a ``sys.path`` directory changes
(installing, upgrading or removing a distribution bumps its directory's mtime). GPUs are
cached too, keyed by boot id and driver version: one ``nvidia-smi`` call can exceed the whole
budget. Measured here (CPython 3.11.7, 125 distributions, Linux, no GPU; median of 15 fresh
processes, import excluded): ``capture_env(cache_dir=...)`` cold (no cache) 26 ms, warm 2.1 ms.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import locale
import os
import platform
import re
import shutil
import struct
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["capture_env", "env_cache_key"]


def _load_sibling_redact() -> types.ModuleType:
    """Load ``redact.py`` from this file's directory, for runs outside the runstate package."""
    import importlib.util

    path = Path(__file__).resolve().with_name("redact.py")
    spec = importlib.util.spec_from_file_location("_runstate_state_redact", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with us
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from importlib.metadata import Distribution

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

_NAME_RUN_RE = re.compile(r"[-_.]+")  # PEP 503: ``Foo_Bar`` and ``foo-bar`` are one name


def _python_info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "in_venv": sys.prefix != sys.base_prefix,
        "abiflags": getattr(sys, "abiflags", ""),
        "cache_tag": sys.implementation.cache_tag,
        "pointer_bits": struct.calcsize("P") * 8,
    }


def _platform_info() -> dict[str, Any]:
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
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _query_gpus() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
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


def _gpu_cache_key() -> str | None:
    """GPUs only change across a reboot or a driver reload: key on both, Linux only."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_bytes()
        driver = Path("/proc/driver/nvidia/version").read_bytes()
    except OSError:
        return None
    return hashlib.blake2b(boot_id + b"\0" + driver, digest_size=16).hexdigest()


def _hardware_info(cache_dir: str | None) -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    except OSError:
        affinity = None
    gpu_key = _gpu_cache_key() if cache_dir else None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "memory_bytes": _memory_bytes(),
        "gpus": _cached(cache_dir, "gpus", gpu_key, _query_gpus, list),
    }


def _threads_info(environ: Mapping[str, str]) -> dict[str, Any]:
    # numpy's BLAS introspection (threadpoolctl, np.show_config) is not cheap and would
    # import numpy; the variables below are what the BLAS libraries read at load time.
    out: dict[str, Any] = {}
    for name in THREAD_ENV_VARS:
        value = environ.get(name)
        out[name] = _redact.REDACTED if value and _redact.is_secret_value(value) else value
    return out


def _locale_info(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        "lang": environ.get("LC_ALL") or environ.get("LANG") or None,
        "preferred_encoding": locale.getpreferredencoding(False),
        "filesystem_encoding": sys.getfilesystemencoding(),
    }


def _timezone_info(environ: Mapping[str, str]) -> dict[str, Any]:
    zone: str | None = None
    try:  # /etc/localtime -> .../zoneinfo/Europe/Paris gives the IANA name
        target = Path("/etc/localtime").resolve().as_posix()
        if "/zoneinfo/" in target:
            zone = target.split("/zoneinfo/", 1)[1]
    except (OSError, RuntimeError):  # RuntimeError: symlink loop on Python < 3.13
        zone = None
    return {
        "tz_env": environ.get("TZ"),
        "name": list(time.tzname),
        "zone": zone,
        "utc_offset_seconds": int(time.localtime().tm_gmtoff),
    }


def _direct_url(dist: Distribution) -> dict[str, Any] | None:
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

    packages: dict[str, Any] = {}
    # distributions() walks sys.path in order, so the first hit for a name is the copy that
    # ``import`` would load; later duplicates (shadowed installs) are ignored.
    for dist in importlib.metadata.distributions():
        try:
            name, version = _name_and_version(dist)
        except (OSError, UnicodeDecodeError):
            continue
        key = _NAME_RUN_RE.sub("-", name or "").lower()
        if not key or key in packages:
            continue
        entry: dict[str, Any] = {"version": version}
        direct = _direct_url(dist)
        if direct is not None:
            entry["direct_url"] = direct
        packages[key] = entry
    return dict(sorted(packages.items()))


def env_cache_key() -> str:
    """Key of the packages cache for this interpreter and its current ``sys.path`` state.

    Covers the executable, ``sys.version`` and, for every existing ``sys.path`` entry, its
    path, ``st_mtime_ns`` and ``st_ino`` (a directory recreated at the same path gets a new
    inode). Adding, removing or replacing a distribution changes its directory's mtime, hence
    the key; an entry that starts to exist changes the key too.
    """
    h = hashlib.blake2b(digest_size=16)
    for part in (f"format={_CACHE_FORMAT}", sys.executable, sys.version):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for entry in sys.path:
        path = Path(entry or os.curdir).absolute()
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_ino}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _write_cache(path: Path, key: str, payload: object) -> None:
    """Write atomically (temp file in the same dir, fsync, rename): concurrent runs see no
    file or a whole one, never a torn write. A failure only costs the next run a cold capture.
    """
    import tempfile

    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        tmp_path = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": _CACHE_FORMAT, "key": key, "payload": payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp_path.replace(path)
        tmp_path = None
        _prune_cache(path.parent, path.name.rsplit("-", 1)[0] + "-")
    except OSError:
        pass
    finally:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()


def _prune_cache(cache_dir: Path, prefix: str) -> None:
    """Keep the newest cache files: every venv and every install leaves one behind."""
    with contextlib.suppress(OSError):
        files = sorted(cache_dir.glob(f"{prefix}*.json"), key=lambda p: p.stat().st_mtime_ns)
        for path in files[:-_CACHE_KEEP]:
            path.unlink()


def _cached(
    cache_dir: str | None, kind: str, key: str | None, compute: Callable[[], Any], kind_type: type
) -> Any:
    """``compute()``, through ``cache_dir/env-<kind>-<key>.json`` when a cache is usable.

    A missing, corrupt, foreign-key or wrongly-typed cache file is ignored and rewritten.
    """
    if not cache_dir or key is None:
        return compute()
    path = Path(cache_dir, f"env-{kind}-{key}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        doc = None
    fresh = isinstance(doc, dict) and (doc.get("format"), doc.get("key")) == (_CACHE_FORMAT, key)
    if fresh and isinstance(doc.get("payload"), kind_type):
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
    With *cache_dir*, packages and GPUs are cached there (see the module docstring).
    """
    env = os.environ if environ is None else environ
    patterns: Iterable[str] = tuple(_redact.DEFAULT_ENV_PATTERNS) + tuple(extra_env_patterns)
    return {
        "python": _python_info(),
        "platform": _platform_info(),
        "hardware": _hardware_info(cache_dir),
        "packages": _cached(
            cache_dir, "packages", env_cache_key() if cache_dir else None, _collect_packages, dict
        ),
        "threads": _threads_info(env),
        "locale": _locale_info(env),
        "timezone": _timezone_info(env),
        "env_vars": _redact.redact_environ(env, patterns),
    }


if __name__ == "__main__":
    # Probe mode: ``<python> -I env.py``. Without -I, Python puts this file's directory first
    # on sys.path; drop it so the capture describes the interpreter, not where we live.
    if sys.path and Path(sys.path[0] or os.curdir).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    print(json.dumps(capture_env(), sort_keys=True))
