"""Writers of foreign formats and small utilities shared by the io tests."""
import json
import os
import pathlib

import numpy as np
import tensorstore as ts

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "jax_iso" / "samples" / "flyem_medulla_fibsem_10nm_iso_160.tif"



def write_ts(spec_driver: str, path, data: np.ndarray, chunks=(2, 3, 4), **metadata) -> None:
  """Writes `data` with tensorstore's zarr / zarr3 / n5 driver (array index order as given)."""
  if spec_driver == "zarr":
    meta = {"shape": list(data.shape), "chunks": list(chunks), "dtype": data.dtype.str, **metadata}
  elif spec_driver == "zarr3":
    meta = {"shape": list(data.shape), "data_type": data.dtype.name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}}, **metadata}
  else:
    meta = {"dimensions": list(data.shape), "blockSize": list(chunks), "dataType": data.dtype.name,
            "compression": {"type": "gzip"}, **metadata}
  store = ts.open({"driver": spec_driver, "kvstore": {"driver": "file", "path": str(path)}, "metadata": meta},
                  create=True).result()
  store[...] = data


def write_json(path, obj) -> None:
  with open(path, "w", encoding="utf-8") as f:
    json.dump(obj, f)


def read_json(path):
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def hidden(folder) -> list:
  """Names of hidden entries (temps) in a folder."""
  return sorted(n for n in os.listdir(folder) if n.startswith("."))
