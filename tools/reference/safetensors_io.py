"""Minimal safetensors reader/writer (no dependency on the `safetensors` package).

Format: 8-byte little-endian header length N, then N bytes of JSON
  {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
then the raw little-endian tensor bytes; data_offsets are relative to the end of the header.

The writer is deterministic: tensors are laid out in name order, the header is compact JSON with the
metadata first, padded with spaces to a multiple of 8 bytes (as the official writer does), so the same
tensors give the same bytes.
"""

import json
import struct
import sys

import numpy as np
import torch

assert sys.byteorder == "little", "safetensors data is little-endian; this reader assumes a little-endian host"

# safetensors dtype name -> (torch dtype, bytes per element)
DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
}
_NAME_OF = {dt: name for name, (dt, _) in DTYPES.items()}

_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: move the raw bits as int16
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save(path, tensors, metadata=None):
    """Write `tensors` (name -> torch.Tensor of a supported dtype) and optional string metadata."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"__metadata__ must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is not a valid tensor name")
        t = tensors[name]
        if t.dtype not in _NAME_OF:
            raise SafetensorsError(f"tensor {name}: unsupported dtype {t.dtype}")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": _NAME_OF[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for data in blobs:
            f.write(data)


def load(path):
    """Read a safetensors file. Returns (tensors: dict name -> torch.Tensor, metadata: dict str -> str).

    Validates the header (size, JSON, dtypes, shapes against byte ranges, ranges inside the file and
    covering the data without gaps or overlaps) and raises SafetensorsError naming the problem.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: file too short ({len(raw)} bytes)")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > _MAX_HEADER or 8 + hlen > len(raw):
        raise SafetensorsError(f"{path}: header length {hlen} does not fit the file ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{path}: __metadata__ must map strings to strings")
    data = memoryview(raw)[8 + hlen :]
    tensors = {}
    spans = []
    for name, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: tensor {name}: malformed header entry {info!r}") from None
        if dtype_name not in DTYPES:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {dtype_name}")
        dtype, size = DTYPES[dtype_name]
        if not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SafetensorsError(f"{path}: tensor {name}: bad shape {shape}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(data)) or end - begin != count * size:
            raise SafetensorsError(
                f"{path}: tensor {name}: data_offsets [{begin}, {end}] do not match shape {shape} x {size} bytes "
                f"within {len(data)} data bytes"
            )
        spans.append((begin, end, name))
        buf = bytes(data[begin:end])
        t = torch.frombuffer(bytearray(buf), dtype=dtype) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(shape)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise SafetensorsError(f"{path}: tensor {name}: data starts at {begin}, expected {pos} (gap or overlap)")
        pos = end
    if pos != len(data):
        raise SafetensorsError(f"{path}: {len(data) - pos} trailing bytes after the last tensor")
    return tensors, dict(metadata)
