"""Read PyTorch legacy-format (pre-zip) `.pth` state dicts into NumPy, without torch.

PyTorch before 1.6 (and `torch.save(..., _use_new_zipfile_serialization=False)`)
writes a checkpoint as one stream of consecutive pickles followed by raw bytes:

1. the magic number `0x1950a86a20f9469cfc6c`,
2. the protocol version `1001`,
3. a dict of system info (endianness, C type sizes),
4. the object itself (here a state dict) in which every tensor is a call to
   `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and every
   storage is a *persistent id* `("storage", <torch.XStorage>, key, location, numel,
   None)` instead of inline data,
5. the sorted list of storage keys,
6. for each key in that order: an int64 element count, then the raw storage bytes.

Unpickling executes whatever callables a pickle names, so a generic `pickle.load`
on an untrusted file is arbitrary code execution. `load_legacy_state_dict` instead
uses an unpickler whose `find_class` resolves only the handful of names a state
dict needs (`torch._utils._rebuild_tensor_v2`, the `torch.*Storage` types and
`collections.OrderedDict`) to inert stand-ins defined here; any other name raises
`CheckpointFormatError`.
"""

import collections
import functools
import io
import os
import pickle
import pickletools
import struct
from typing import NamedTuple

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
_ZIP_SIGNATURE = b"PK\x03\x04"

# Storage classes a legacy checkpoint may name, and the dtype of their elements.
# BFloat16 has no NumPy dtype; it is widened to float32 after reading.
_STORAGE_DTYPES = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointFormatError(ValueError):
    """The file is not a readable PyTorch legacy-format state dict."""


# === Stand-ins for the torch objects named in the pickle ===
# Named tuples, so that a BUILD opcode in a crafted file cannot set attributes on them.


class _StorageType(NamedTuple):
    """Placeholder for a `torch.XStorage` class: its name and element dtype."""

    name: str
    dtype: np.dtype


class _StorageRef(NamedTuple):
    """A storage referenced by persistent id; its bytes follow the pickle."""

    storage_type: _StorageType
    key: str
    numel: int


class _TensorRef(NamedTuple):
    """Arguments of one `_rebuild_tensor_v2` call, resolved once storages are read."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused_args):
    """Stand-in for `torch._utils._rebuild_tensor_v2`; ignores grad flag and hooks."""
    if not isinstance(storage, _StorageRef):
        raise CheckpointFormatError("_rebuild_tensor_v2 called without a storage reference")
    return _TensorRef(
        storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(n) for n in stride)
    )


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the classes a plain state dict needs.

    Args:
        stream: binary file positioned at the start of a pickle.
        storages: where the storage references met while unpickling are collected,
            by key (one shared object per key, as torch does).
    """

    def __init__(self, stream: io.BytesIO, storages: dict | None = None):
        super().__init__(stream)
        self.storages = {} if storages is None else storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            # A fresh wrapper per load: BUILD could otherwise set attributes on the
            # module's function object, and they would outlive this load.
            return functools.partial(_rebuild_tensor_v2)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise CheckpointFormatError(
            f"refusing to unpickle {module}.{name}: a legacy state dict may only reference "
            "torch._utils._rebuild_tensor_v2, torch.*Storage and collections.OrderedDict"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointFormatError(f"unexpected persistent id in checkpoint: {pid!r:.200}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointFormatError(f"persistent id names no storage type: {pid!r:.200}")
        if len(pid) > 5 and pid[5] is not None:
            # torch >= 1.0 always writes None here; only torch 0.x wrote storage views.
            raise CheckpointFormatError("storage views (PyTorch 0.x checkpoints) are not supported")
        ref = _StorageRef(storage_type, str(key), int(numel))
        return self.storages.setdefault(ref.key, ref)


# === Reading ===

# Opcodes a pickled state dict of tensors is made of (protocols 2 to 4). Anything
# else (object construction, sets, byte arrays, extensions, ...) is rejected before
# unpickling, as are memo indices a normal pickler would not write: a forged
# LONG_BINPUT index makes the C unpickler allocate and zero a memo of that size.
_ALLOWED_OPCODES = frozenset(
    ("PROTO", "FRAME", "STOP", "MARK", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "BINPERSID")
    + ("BINPUT", "LONG_BINPUT", "MEMOIZE", "BINGET", "LONG_BINGET")
    + ("EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "APPEND", "APPENDS")
    + ("EMPTY_DICT", "SETITEM", "SETITEMS", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8")
    + ("NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT")
)


def _check_pickle(stream: io.BytesIO, what: str) -> None:
    """Scan the next pickle without executing it; leave the stream where it was."""
    start = stream.tell()
    memo_size = 0
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            if opcode.name not in _ALLOWED_OPCODES:
                raise CheckpointFormatError(
                    f"unexpected pickle opcode {opcode.name} in the {what} of a legacy checkpoint"
                )
            if opcode.name in ("BINPUT", "LONG_BINPUT"):
                if arg > memo_size:
                    raise CheckpointFormatError(f"out-of-order memo index {arg} in the {what}")
                memo_size = max(memo_size, arg + 1)
            elif opcode.name == "MEMOIZE":
                memo_size += 1
    except ValueError as e:  # genops: truncated data or an unknown opcode byte
        if isinstance(e, CheckpointFormatError):
            raise
        raise CheckpointFormatError(
            f"truncated or corrupt legacy checkpoint while reading the {what}: {e}"
        ) from e
    stream.seek(start)


def _load_pickle(stream: io.BytesIO, what: str, storages: dict | None = None):
    """Check, then unpickle the next record with the restricted unpickler."""
    _check_pickle(stream, what)
    try:
        return _RestrictedUnpickler(stream, storages).load()
    except CheckpointFormatError:
        raise
    except Exception as e:
        # A damaged stream can fail in many ways (a stand-in called with the wrong
        # arguments, BUILD on a stand-in, ...); all mean the same to the caller.
        raise CheckpointFormatError(f"corrupt legacy checkpoint in the {what}: {e!r}") from e


def _read_storages(
    stream: io.BytesIO, data: bytes, storages: dict[str, _StorageRef]
) -> dict[str, np.ndarray]:
    """Read the key list, then view each storage's raw bytes in `data` as a flat array."""
    keys = _load_pickle(stream, "storage key list")
    if not isinstance(keys, list):
        raise CheckpointFormatError(f"expected the storage key list, got {type(keys).__name__}")
    arrays = {}
    for key in keys:
        if key not in storages:
            raise CheckpointFormatError(f"storage {key!r} is listed but never referenced")
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointFormatError(f"truncated legacy checkpoint: no size for storage {key!r}")
        (numel,) = struct.unpack("<q", header)
        if numel != storages[key].numel:
            raise CheckpointFormatError(
                f"storage {key!r} holds {numel} elements, the state dict expects "
                f"{storages[key].numel}"
            )
        dtype = storages[key].storage_type.dtype
        nbytes = numel * dtype.itemsize
        if stream.tell() + nbytes > len(data):
            raise CheckpointFormatError(
                f"truncated legacy checkpoint: storage {key!r} needs {nbytes} bytes, "
                f"file has {len(data) - stream.tell()} left"
            )
        arrays[key] = np.frombuffer(data, dtype=dtype, count=numel, offset=stream.tell())
        stream.seek(nbytes, io.SEEK_CUR)
    missing = set(storages) - set(arrays)
    if missing:
        raise CheckpointFormatError(f"storages referenced but not stored: {sorted(missing)[:5]}")
    return arrays


def _materialize(name: str, tensor: _TensorRef, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Build an owned, C-contiguous array for one tensor from its storage."""
    flat = arrays[tensor.storage.key]
    if min((tensor.offset, *tensor.size, *tensor.stride), default=0) < 0:
        raise CheckpointFormatError(f"tensor {name!r} has a negative size, stride or offset")
    numel = int(np.prod(tensor.size, dtype=np.int64))
    if numel == 0:
        return np.zeros(tensor.size, dtype=flat.dtype.newbyteorder("="))
    extent = 1 + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))
    # numel <= storage size also rules out zero-stride (broadcast) tensors blowing up
    # to far more memory than the file holds.
    if tensor.offset + extent > flat.size or numel > flat.size:
        raise CheckpointFormatError(
            f"tensor {name!r} of size {tensor.size} at offset {tensor.offset} overruns "
            f"storage {tensor.storage.key!r} of {flat.size} elements"
        )
    array = np.lib.stride_tricks.as_strided(
        flat[tensor.offset :],
        shape=tensor.size,
        strides=tuple(s * flat.dtype.itemsize for s in tensor.stride),
        writeable=False,
    )
    array = np.array(array, dtype=flat.dtype.newbyteorder("="), copy=True, order="C")
    if tensor.storage.storage_type.name == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def load_legacy_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch legacy-format `.pth` state dict without importing torch.

    Args:
        path: path of a checkpoint written in PyTorch's legacy (pre-zip) format
            whose top-level object is a mapping of names to tensors.

    Returns:
        The tensors by name, in file order, as C-contiguous NumPy arrays in native
        byte order (`num_batches_tracked` counters and other integer buffers included).

    Raises:
        CheckpointFormatError: the file is a zip-format checkpoint, is truncated or
            corrupt, names a class outside the allowed set, or holds something
            other than a flat mapping of tensors.
    """
    # Read it whole: the storages are then zero-copy views, and no length field in
    # a damaged file can make a read allocate more than the file's size.
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == _ZIP_SIGNATURE:
        raise CheckpointFormatError(
            f"{os.fspath(path)} is a zip-format PyTorch checkpoint (torch >= 1.6 default); "
            "load_legacy_state_dict reads only the legacy (pre-zip) format"
        )
    stream = io.BytesIO(data)
    magic = _load_pickle(stream, "magic number")
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointFormatError(
            f"{os.fspath(path)} is not a PyTorch legacy checkpoint (bad magic number)"
        )
    version = _load_pickle(stream, "protocol version")
    if version != LEGACY_PROTOCOL_VERSION:
        raise CheckpointFormatError(f"unsupported legacy protocol version {version!r}")
    sys_info = _load_pickle(stream, "system info")
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise CheckpointFormatError("big-endian legacy checkpoints are not supported")

    # The storages are met while the object is unpickled; their bytes come after it.
    storages: dict[str, _StorageRef] = {}
    state = _load_pickle(stream, "state dict", storages)
    if not isinstance(state, dict):
        raise CheckpointFormatError(
            f"expected a state dict at the top level, got {type(state).__name__}"
        )
    arrays = _read_storages(stream, data, storages)

    result = {}
    for name, value in state.items():
        if not isinstance(value, _TensorRef):
            raise CheckpointFormatError(
                f"state dict entry {name!r} is a {type(value).__name__}, not a tensor"
            )
        result[str(name)] = _materialize(str(name), value, arrays)
    return result
