"""The temporary store of the first orientation's predictions (a chunked zarr array beside the output).

float16 when the output is uint8: its rounding (at most 2.4e-4 below 1, 0.06 of a uint8 step) is far below the
output's own quantisation, and it halves the store; float32 otherwise (uint16 and float32 outputs have finer
steps). Chunks are blosc-lz4 compressed with byte shuffle: measured on the shipped sample, about 1.3 (float16)
or 3 (float32) bytes per voxel, written at ~150 and read at ~500 million voxels per second, negligible beside a
model.
"""
from __future__ import annotations

import os

import numpy as np
import tensorstore as ts

_COMPRESSOR = {"id": "blosc", "cname": "lz4", "clevel": 1, "shuffle": 1, "blocksize": 0}
_ZARR_DTYPE = {"float16": "<f2", "float32": "<f4"}


def scratch_dtype(out_dtype, temp_dtype=None) -> np.dtype:
  """float16 for uint8 outputs, else float32, unless `temp_dtype` says which."""
  if temp_dtype is None:
    temp_dtype = np.float16 if np.dtype(out_dtype) == np.uint8 else np.float32
  temp_dtype = np.dtype(temp_dtype)
  if temp_dtype.name not in _ZARR_DTYPE:
    raise ValueError(f"temp_dtype must be float16 or float32, got {temp_dtype}")
  return temp_dtype


def open_scratch(path: str, shape, dtype, chunks, *, create: bool) -> ts.TensorStore:
  """Creates (replacing anything there) or reopens the store at `path`; reopening checks shape and dtype."""
  kvstore = {"driver": "file", "path": os.fspath(path)}
  dtype = np.dtype(dtype)
  if create:
    meta = {"shape": [int(n) for n in shape], "chunks": [int(c) for c in chunks],
            "dtype": _ZARR_DTYPE[dtype.name], "compressor": _COMPRESSOR, "fill_value": 0, "order": "C"}
    return ts.open({"driver": "zarr", "kvstore": kvstore, "metadata": meta}, create=True,
                   delete_existing=True, read=True, write=True).result()
  store = ts.open({"driver": "zarr", "kvstore": kvstore}, open=True, read=True, write=True).result()
  if tuple(store.shape) != tuple(shape) or np.dtype(store.dtype.numpy_dtype) != dtype:
    raise ValueError(f"{path} holds {tuple(store.shape)} {store.dtype}, not {tuple(shape)} {dtype}")
  return store
