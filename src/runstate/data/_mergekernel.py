"""The compiled merge behind row diffs (imported lazily: numba costs ~0.3 s to import).

Both inputs are sorted by (key fingerprint, row fingerprint). One pass classifies every row:
0 = present on both sides unchanged, 1 = only on this side, 2 = the key is on both sides
with a different row (keyed diffs only).
"""

from __future__ import annotations

from typing import Any

from runstate.data.numba_setup import configure

configure()

import numba  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["merge"]


@numba.njit(cache=True, nogil=True)  # type: ignore[misc]
def merge(ka: Any, ra: Any, kb: Any, rb: Any, keyed: bool) -> Any:  # pragma: no cover
    na, nb = ka.shape[0], kb.shape[0]
    ca = np.zeros(na, np.int8)
    cb = np.zeros(nb, np.int8)
    i = 0
    j = 0
    while i < na and j < nb:
        if ka[i] < kb[j]:
            ca[i] = 1
            i += 1
        elif kb[j] < ka[i]:
            cb[j] = 1
            j += 1
        elif not keyed:
            i += 1
            j += 1
        else:
            key = ka[i]
            ie = i
            while ie < na and ka[ie] == key:
                ie += 1
            je = j
            while je < nb and kb[je] == key:
                je += 1
            if ie - i == 1 and je - j == 1:
                if ra[i] != rb[j]:
                    ca[i] = 2
                    cb[j] = 2
            else:
                # A repeated key: pair equal rows; what is left over is added/removed.
                p = i
                q = j
                while p < ie and q < je:
                    if ra[p] == rb[q]:
                        p += 1
                        q += 1
                    elif ra[p] < rb[q]:
                        ca[p] = 1
                        p += 1
                    else:
                        cb[q] = 1
                        q += 1
                while p < ie:
                    ca[p] = 1
                    p += 1
                while q < je:
                    cb[q] = 1
                    q += 1
            i = ie
            j = je
    while i < na:
        ca[i] = 1
        i += 1
    while j < nb:
        cb[j] = 1
        j += 1
    return ca, cb
