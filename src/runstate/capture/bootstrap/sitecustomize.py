"""runstate's zero-code capture bootstrap, loaded by every Python process ``runstate run`` starts.

``runstate run`` puts this folder first on ``PYTHONPATH``, so Python imports this file at
start-up (the ``site`` module imports ``sitecustomize``). It must stay standard-library only
and cheap: it runs inside the user's interpreter, which may not have runstate installed.

What it does, only when ``RUNSTATE_REPORT_DIR`` is set:

* installs a PEP 578 audit hook that notes every file opened under the project root, for
  reading (an input) or writing (an output);
* applies the run's seed: ``random`` at once, NumPy and PyTorch when (and if) the program
  imports them, through an import hook, so an unused library is never imported for it;
* at exit, writes ``<report dir>/proc-<pid>.json`` with the files, the project-local modules
  the process imported (for code capture) and, for the launcher's direct child, the
  environment (runstate's ``env.py`` loaded by file path);
* then imports the ``sitecustomize`` that this one shadows, if the environment has one.

Speed: every captured process pays for this file twice, at start-up and at exit, and a
``python -c pass`` starts in ~10 ms. So at start-up it imports nothing that ``site`` has not
already imported, except ``atexit`` (built in) and ``importlib.machinery`` (to find the
shadowed ``sitecustomize``); ``typing``, ``json``, ``re`` or ``importlib.util`` would each add
3 to 10 ms. At exit, the report is written without :mod:`json` (its import pulls in ``re``,
~7 ms) by :func:`_json_text`, and ``env.py`` is loaded with a bare ``SourceFileLoader``.
Measured (``bench/profile_run.py`` method, CPython 3.11.7, byte code cached, warm env cache,
medians): start-up 11.6-14.5 ms and exit report 16.4-19.0 ms before, 0.8-2.0 ms and
2.5-2.9 ms since.
"""

from __future__ import annotations

import atexit
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_REPORT_DIR = os.environ.get("RUNSTATE_REPORT_DIR")


def _encode(value: object, out: list[str], quote: Callable[[str], str]) -> None:
    """Append ``json.dumps(value)``'s text to *out*; TypeError for a type it does not handle."""
    if isinstance(value, str):
        out.append(quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _encode(item, out, quote)
        out.append("]")
    elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(", " + quote(key) + ": " if i else quote(key) + ": ")
            _encode(item, out, quote)
        out.append("}")
    else:  # floats, non-str keys, anything else: json knows the rules
        raise TypeError(type(value).__name__)


def _json_text(value: object) -> str:
    """``json.dumps(value)``, without importing :mod:`json` when *value* holds only str, int,
    bool, None, lists and str-keyed dicts (a report does): strings are escaped by the C
    function ``json`` itself uses. Anything else, or no ``_json``, goes through :mod:`json`.
    """
    try:
        from _json import encode_basestring_ascii
    except ImportError:  # pragma: no cover - CPython always has _json
        pass
    else:
        out: list[str] = []
        try:
            _encode(value, out, encode_basestring_ascii)
        except TypeError:
            pass
        else:
            return "".join(out)
    import json

    return json.dumps(value)


def _exec_file(name: str, path: str) -> Any:
    """Execute the Python file *path* as a fresh module (not put in ``sys.modules``).

    A bare ``SourceFileLoader`` (byte code cached as for any import): ``importlib.util``
    would import contextlib, functools and types, ~3 ms. ``__package__`` is ``""``, so a
    relative import in the file fails with ImportError, as for a top-level module.
    """
    from importlib.machinery import SourceFileLoader

    loader = SourceFileLoader(name, path)
    module = type(sys)(name)
    module.__file__ = path
    module.__loader__ = loader
    module.__package__ = ""
    loader.exec_module(module)
    return module


def _install() -> None:
    root = os.environ.get("RUNSTATE_PROJECT_ROOT", os.getcwd())
    root_prefix = root.rstrip(os.sep) + os.sep
    store_prefix = os.environ.get("RUNSTATE_STORE_DIR", os.path.join(root, ".runstate")) + os.sep
    bootstrap_dir = os.path.dirname(os.path.abspath(__file__))
    reads: dict[str, int] = {}
    writes: dict[str, int] = {}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    fspath, abspath = os.fspath, os.path.abspath

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "open":
            return
        path = args[0]
        if isinstance(path, int):
            return
        try:
            path = abspath(os.fsdecode(fspath(path)))
        except (TypeError, ValueError):
            return
        if not path.startswith(root_prefix) or path.startswith(store_prefix):
            return
        if path.endswith(".pyc") or "__pycache__" in path:
            return
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writing = (mode is not None and any(c in mode for c in "wax+")) or (
            mode is None and bool((flags or 0) & write_flags)
        )
        (writes if writing else reads).setdefault(path, len(reads) + len(writes))

    sys.addaudithook(hook)

    applied: list[str] = []
    seed_text = os.environ.get("RUNSTATE_SEED")
    if seed_text is not None:
        seed = int(seed_text)
        import random

        random.seed(seed)
        applied.append("random")

        def seed_library(name: str, module: Any) -> None:
            try:
                if name == "numpy":
                    module.random.seed(seed)
                elif name == "torch":
                    module.manual_seed(seed)
                applied.append(name)
            except Exception:  # a seeding failure must never break the user's program
                pass

        class _SeedOnImport:
            """Meta-path finder that seeds numpy/torch right after they finish importing."""

            @staticmethod
            def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
                if fullname not in ("numpy", "torch"):
                    return None
                for finder in sys.meta_path:
                    if finder is _SeedOnImport or not hasattr(finder, "find_spec"):
                        continue
                    spec = finder.find_spec(fullname, path, target)
                    if spec is not None and spec.loader is not None:
                        spec.loader = _seeding_loader(spec.loader, fullname)
                        return spec
                return None

        def _seeding_loader(loader: Any, fullname: str) -> Any:
            class _Loader:
                def __getattr__(self, item: str) -> Any:
                    return getattr(loader, item)

                def create_module(self, spec: Any) -> Any:
                    return loader.create_module(spec)

                def exec_module(self, module: Any) -> None:
                    loader.exec_module(module)
                    seed_library(fullname, module)

            return _Loader()

        sys.meta_path.insert(0, _SeedOnImport)

    launcher_pid = os.environ.get("RUNSTATE_LAUNCHER_PID")
    pythonhashseed = os.environ.get("PYTHONHASHSEED")

    def write_report() -> None:
        modules = []
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                path = abspath(path)
                if path.startswith(root_prefix) and not path.startswith(bootstrap_dir):
                    modules.append(path)
        report: dict[str, Any] = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "executable": sys.executable,
            "argv": list(sys.argv),
            "cwd": os.getcwd(),
            "reads": sorted(reads, key=reads.__getitem__),
            "writes": sorted(writes, key=writes.__getitem__),
            "modules": sorted(modules),
            "pythonhashseed": pythonhashseed,
            "applied_seeds": applied,
            "env": None,
        }
        env_module = os.environ.get("RUNSTATE_ENV_MODULE")
        if env_module and launcher_pid == str(os.getppid()):
            try:
                module = _exec_file("_runstate_env", env_module)
                # The environment as the program would have had it without runstate.
                environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
                paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
                paths = [p for p in paths if os.path.abspath(p) != bootstrap_dir]
                if paths:
                    environ["PYTHONPATH"] = os.pathsep.join(paths)
                else:
                    environ.pop("PYTHONPATH", None)
                report["env"] = module.capture_env(
                    cache_dir=os.environ.get("RUNSTATE_ENV_CACHE"), environ=environ
                )
            except Exception as exc:  # report what failed; the launcher falls back to its own
                report["env_error"] = f"{type(exc).__name__}: {exc}"
        final = os.path.join(str(_REPORT_DIR), f"proc-{os.getpid()}.json")
        tmp = final + ".tmp"
        text = _json_text(report)
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, final)

    atexit.register(write_report)


def _chain_user_sitecustomize() -> None:
    """Import the ``sitecustomize`` further down ``sys.path`` that this file shadows."""
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    try:  # importlib.util.module_from_spec, without importlib.util's imports (see above)
        from importlib._bootstrap import module_from_spec
    except ImportError:  # pragma: no cover - importlib always registers _bootstrap
        from importlib.util import module_from_spec
    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if _REPORT_DIR:
    try:
        _install()
    except Exception as _exc:  # never break the user's program
        sys.stderr.write(f"runstate: capture bootstrap failed: {_exc}\n")
_chain_user_sitecustomize()
