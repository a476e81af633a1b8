"""Compute backends: the CPU kernel (always) and the optional CUDA backend."""

from __future__ import annotations

import functools
from types import ModuleType

from ._validation import choice

__all__ = ["available_backends", "cuda_device", "cuda_module", "resolve_backend", "BACKENDS"]

BACKENDS = ("cpu", "cuda", "auto")


@functools.lru_cache(maxsize=1)
def cuda_module() -> ModuleType | None:
    """The compiled CUDA module ``lindiff._cuda``, or None when lindiff was built without it."""
    try:
        from . import _cuda  # built only with LINDIFF_CUDA=ON
    except ImportError:
        return None
    return _cuda


def available_backends() -> list[str]:
    """Backends usable here: ``"cpu"`` always; ``"cuda"`` when lindiff was built with
    ``LINDIFF_CUDA=ON`` and a CUDA device is present.

    Examples
    --------
    >>> import lindiff
    >>> "cpu" in lindiff.available_backends()
    True
    """
    out = ["cpu"]
    mod = cuda_module()
    if mod is not None and mod.device_count() > 0:
        out.append("cuda")
    return out


def cuda_device() -> str:
    """A description of the CUDA device, or why there is none."""
    mod = cuda_module()
    if mod is None:
        return "lindiff was built without the CUDA backend (LINDIFF_CUDA=OFF)"
    return str(mod.device_description())


def resolve_backend(backend: str, *, work: float = 0.0, gpu_threshold: float = 1e8) -> str:
    """Turn ``"cpu" | "cuda" | "auto"`` into a usable backend name.

    ``"auto"`` takes the GPU when one is available and ``work`` (eigenvalue-point pairs) is at
    least ``gpu_threshold``, where the transfer cost is amortised. ``"cuda"`` without a usable
    device is a ValueError that says why.
    """
    choice("backend", backend, BACKENDS)
    if backend == "cpu":
        return "cpu"
    have = "cuda" in available_backends()
    if backend == "cuda":
        if not have:
            raise ValueError(f"backend 'cuda' is not available: {cuda_device()}")
        return "cuda"
    return "cuda" if have and work >= gpu_threshold else "cpu"
