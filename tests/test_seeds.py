"""Seeding and the seeds record. torch is simulated with a stand-in module in sys.modules."""

from __future__ import annotations

import random
import re
import sys
import types
from typing import Any

import pytest

from runstate.state.seeds import SEED_MAX, apply_seed, capture_seeds, validate_seed

np = pytest.importorskip("numpy")


def _draws() -> tuple[list[float], list[float]]:
    return [random.random() for _ in range(5)], [float(x) for x in np.random.rand(5)]


def test_same_seed_same_sequences_other_seed_differs() -> None:
    applied = apply_seed(7)
    first = _draws()
    assert apply_seed(7) == applied
    assert _draws() == first
    apply_seed(8)
    other = _draws()
    assert other[0] != first[0]
    assert other[1] != first[1]
    assert applied[:2] == ["random", "numpy"]


def test_numpy_imported_after_seeding_is_seeded() -> None:
    apply_seed(123)
    expected = np.random.rand(3).tolist()
    apply_seed(123)
    import numpy  # a user module importing numpy after the seed was applied

    assert numpy.random.rand(3).tolist() == expected


@pytest.mark.parametrize("bad", [-1, SEED_MAX, 2**64, 1.5, "7", None, True])
def test_invalid_seeds_raise(bad: Any) -> None:
    with pytest.raises(ValueError, match="invalid seed"):
        apply_seed(bad)
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        validate_seed(bad)


def test_boundaries_and_integer_likes() -> None:
    assert apply_seed(0)[0] == "random"
    assert apply_seed(SEED_MAX - 1)[0] == "random"
    assert validate_seed(np.int64(5)) == 5


class _FakeTorch(types.ModuleType):
    """Just enough of torch for seeding and determinism capture."""

    def __init__(self, cuda: bool) -> None:
        super().__init__("torch")
        self.seeds: list[tuple[str, int]] = []
        self._cuda = cuda
        self.cuda = types.SimpleNamespace(
            is_available=lambda: self._cuda,
            manual_seed_all=lambda s: self.seeds.append(("cuda", s)),
        )
        self.backends = types.SimpleNamespace(
            cudnn=types.SimpleNamespace(deterministic=True, benchmark=False)
        )

    def manual_seed(self, seed: int) -> None:
        self.seeds.append(("cpu", seed))

    def are_deterministic_algorithms_enabled(self) -> bool:
        return True


def test_torch_seeded_only_when_already_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert "torch" not in apply_seed(3)
    fake = _FakeTorch(cuda=True)
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert apply_seed(3) == ["random", "numpy", "torch", "torch.cuda"]
    assert fake.seeds == [("cpu", 3), ("cuda", 3)]


def test_capture_seeds_reports_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    environ = {
        "PYTHONHASHSEED": "0",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        "TF_DETERMINISTIC_OPS": "1",
        "LANG": "C",
    }
    record = capture_seeds(7, ["numpy", "random"], environ=environ)
    assert record == {
        "seed": 7,
        "applied": ["numpy", "random"],
        "pythonhashseed": "0",
        "determinism": {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "TF_DETERMINISTIC_OPS": "1"},
    }
    unseeded = capture_seeds(None, [], environ={})
    assert unseeded == {"seed": None, "applied": [], "pythonhashseed": None, "determinism": {}}


def test_capture_seeds_reads_torch_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _FakeTorch(cuda=False))
    determinism = capture_seeds(1, ["random", "torch"], environ={})["determinism"]
    assert determinism == {
        "cudnn_benchmark": False,
        "cudnn_deterministic": True,
        "torch_deterministic_algorithms": True,
    }
