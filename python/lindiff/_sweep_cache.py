"""Content-hash keys and the on-disk cache of :func:`lindiff.sweep` (private).

A key is the SHA-256 of a canonical byte encoding of everything a grid point's result depends on:
the function's identity (module, qualified name and, for Python functions, its byte code,
constants and defaults), its fixed and per-point arguments, the point's seed, the lindiff version
and the kernel's build id. Equal inputs give equal keys in every process and session; inputs that
cannot be encoded canonically fall back to their pickle (a different pickle can only cause a miss,
never a wrong hit).

One file per grid point: a magic line, the SHA-256 of the payload, the payload (a pickle). A file
whose magic, length, digest or content does not check out is reported with a
:class:`SweepCacheWarning` and recomputed. Files are written to a temporary name and moved into
place with :func:`os.replace`, so readers never see a half-written entry.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SweepCacheWarning", "DiskCache", "cache_key", "function_identity"]

_KEY_SCHEMA = b"lindiff.sweep cache key v1\n"
_MAGIC = b"LINDIFF-SWEEP-CACHE v1\n"
_DIGEST = 32  # bytes of SHA-256


class SweepCacheWarning(UserWarning):
    """A sweep cache entry could not be used (corrupted, truncated, unreadable) or written."""


def _slot_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]


class _Encoder:
    """Canonical, type-tagged byte encoding of (nested) Python / NumPy values into a hash."""

    def __init__(self) -> None:
        self.h = hashlib.sha256(_KEY_SCHEMA)
        self._active: set[int] = set()

    def _put(self, tag: bytes, data: bytes = b"") -> None:
        self.h.update(tag + len(data).to_bytes(8, "little") + data)

    def feed(self, obj: Any) -> None:  # noqa: C901  (one branch per kind of value)
        if obj is None or isinstance(obj, (bool, np.bool_)):
            self._put(b"B", repr(None if obj is None else bool(obj)).encode())
        elif isinstance(obj, (int, np.integer)):
            self._put(b"I", str(int(obj)).encode())
        elif isinstance(obj, (float, np.floating)):
            self._put(b"F" + np.dtype(type(obj)).str.encode(), float(obj).hex().encode())
        elif isinstance(obj, (complex, np.complexfloating)):
            z = complex(obj)
            self._put(b"C", f"{z.real.hex()},{z.imag.hex()}".encode())
        elif isinstance(obj, str):
            self._put(b"S", obj.encode("utf-8", "surrogatepass"))
        elif isinstance(obj, (bytes, bytearray)):
            self._put(b"Y", bytes(obj))
        elif isinstance(obj, np.ndarray):
            self._put(b"A", f"{obj.dtype.str}|{obj.shape}".encode())
            if obj.dtype.hasobject:
                self._nested(b"a", list(obj.ravel()))
            else:
                self._put(b"a", np.ascontiguousarray(obj).tobytes())
        elif isinstance(obj, np.random.SeedSequence):
            self._put(b"Q")
            self.feed((obj.entropy, tuple(obj.spawn_key), obj.pool_size, obj.n_children_spawned))
        elif isinstance(obj, (list, tuple)):
            self._nested(b"L" if isinstance(obj, list) else b"T", list(obj))
        elif isinstance(obj, dict):
            items = sorted(((_digest(k), k, v) for k, v in obj.items()), key=lambda kv: kv[0])
            self._put(b"D", str(len(items)).encode())
            for _, k, v in items:
                self.feed(k)
                self._guarded(v)
        elif isinstance(obj, (set, frozenset)):
            self._put(b"E", b"".join(sorted(_digest(x) for x in obj)))
        elif isinstance(obj, types.ModuleType):
            self._put(b"M", obj.__name__.encode())
        elif isinstance(obj, functools.partial):
            self._put(b"P")
            self.feed((obj.func, obj.args, obj.keywords))
        elif isinstance(obj, types.CodeType):
            self._put(b"K", obj.co_code)
            self.feed((obj.co_names, obj.co_varnames, obj.co_consts))
        elif isinstance(obj, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, type)):
            self._put(b"N", function_identity(obj).encode())
            if isinstance(obj, types.MethodType):
                self.feed(obj.__func__)
                self._guarded(obj.__self__)
            elif isinstance(obj, types.FunctionType):
                cells = tuple(c.cell_contents for c in obj.__closure__ or ())
                self.feed((obj.__code__, obj.__defaults__, obj.__kwdefaults__))
                self._guarded(cells)
        else:
            self._object(obj)

    def _nested(self, tag: bytes, items: list[Any]) -> None:
        self._put(tag, str(len(items)).encode())
        for x in items:
            self._guarded(x)

    def _guarded(self, obj: Any) -> None:
        if id(obj) in self._active:
            raise ValueError(f"cannot build a cache key: the value {type(obj).__name__} refers to itself")
        self._active.add(id(obj))
        try:
            self.feed(obj)
        finally:
            self._active.discard(id(obj))

    def _object(self, obj: Any) -> None:
        cls = type(obj)
        state: dict[str, Any] = {}
        if hasattr(obj, "__dict__"):
            state.update(vars(obj))
        for name in _slot_names(cls):
            if hasattr(obj, name):
                state[name] = getattr(obj, name)
        if state or hasattr(obj, "__dict__") or _slot_names(cls):
            self._put(b"O", f"{cls.__module__}.{cls.__qualname__}".encode())
            self._guarded(state)
            return
        try:  # e.g. C extension types: their pickle (a different pickle only means a cache miss)
            data = pickle.dumps(obj, protocol=4)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"cannot build a cache key for a value of type {cls.__qualname__} ({e}); "
                             "use cache=None") from None
        self._put(b"X", data)


def _digest(obj: Any) -> bytes:
    enc = _Encoder()
    enc.feed(obj)
    return enc.h.digest()


def function_identity(fn: Any) -> str:
    """``module.qualname`` of a function, method, class or callable object (its class)."""
    if isinstance(fn, functools.partial):
        return f"functools.partial({function_identity(fn.func)})"
    target = fn if hasattr(fn, "__qualname__") else type(fn)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


def cache_key(fn: Any, fixed: dict[str, Any], params: dict[str, Any], seed: np.random.SeedSequence | None,
              extra: dict[str, Any]) -> str:
    """The hex SHA-256 of one grid point's inputs (see the module docstring)."""
    enc = _Encoder()
    enc.feed({"function": function_identity(fn), "fn": fn, "fixed": fixed, "params": params,
              "seed": None if seed is None else (seed.entropy, tuple(seed.spawn_key), seed.pool_size),
              "extra": extra})
    return enc.h.hexdigest()


class DiskCache:
    """One file per key under ``directory`` (created if missing)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"cache must be a directory (got the file {str(self.directory)!r})")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"cache directory {str(self.directory)!r} cannot be created ({e})") from None

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.ldsweep"

    def load(self, key: str, kind: type | tuple[type, ...] = object) -> tuple[bool, Any]:
        """``(True, value)`` on a valid hit, ``(False, None)`` on a miss or a bad entry (with a warning).

        A stored value that is not an instance of ``kind`` is a bad entry too (recomputed, then
        overwritten), whatever its checksum says.
        """
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return False, None
        except OSError as e:
            return self._bad(path, f"unreadable: {e.strerror or e}")
        head = len(_MAGIC) + _DIGEST
        if len(raw) < head or not raw.startswith(_MAGIC):
            return self._bad(path, "bad header (truncated or not a sweep cache file)")
        digest, payload = raw[len(_MAGIC):head], raw[head:]
        if hashlib.sha256(payload).digest() != digest:
            return self._bad(path, "checksum mismatch (truncated or corrupted)")
        try:
            entry = pickle.loads(payload)
        except Exception as e:  # noqa: BLE001  (checksum passed: written by an incompatible version)
            return self._bad(path, f"cannot be unpickled ({type(e).__name__}: {e})")
        if not isinstance(entry, dict) or entry.get("key") != key or "result" not in entry:
            return self._bad(path, "content does not match its key")
        if not isinstance(entry["result"], kind):
            return self._bad(path, f"holding a {type(entry['result']).__name__}, not a result")
        return True, entry["result"]

    def store(self, key: str, value: Any, meta: dict[str, Any]) -> None:
        """Write atomically (temporary file in the same directory, then :func:`os.replace`)."""
        payload = pickle.dumps({"key": key, "meta": meta, "result": value}, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = None
        try:
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".tmp-", suffix=".ldsweep",
                                             delete=False) as f:
                tmp = f.name
                f.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
                f.flush()
                os.fsync(f.fileno())
            self._clear_slot(self.path(key))
            os.replace(tmp, self.path(key))
            tmp = None
        except OSError as e:
            warnings.warn(SweepCacheWarning(f"lindiff.sweep: cannot write cache entry {self.path(key)} ({e}); "
                                            "the result is kept in memory only"), stacklevel=4)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    @staticmethod
    def _clear_slot(path: Path) -> None:
        """A directory (or other non-file) where an entry belongs is moved aside (``.broken-*``), so
        the entry can be written again; its content is kept for the user to inspect."""
        if path.is_dir() and not path.is_symlink():
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".broken-{path.stem[:16]}-"))
            os.replace(path, aside / path.name)
            warnings.warn(SweepCacheWarning(f"lindiff.sweep: cache entry {path} was a directory; moved it to "
                                            f"{aside} and wrote the entry"), stacklevel=5)

    @staticmethod
    def _bad(path: Path, why: str) -> tuple[bool, None]:
        warnings.warn(SweepCacheWarning(f"lindiff.sweep: cache entry {path} is {why}; recomputing it"),
                      stacklevel=4)
        return False, None
