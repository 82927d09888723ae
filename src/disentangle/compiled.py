"""The one way the package compiles a function with numba.

Numba's on-disk cache keys a compiled function on its own file only: a cached function
that calls a compiled function of another file keeps the machine code of that callee
as it was when it was cached, until its own file changes. So kernels that call each
other live in one file.
"""

from __future__ import annotations

import numba


def compiled(function):
    """``function`` compiled by numba, releasing the GIL, and cached on disk (next to its
    file, else in numba's user-wide cache); compiled anew in each process where neither
    place is writable."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba's "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(function)
