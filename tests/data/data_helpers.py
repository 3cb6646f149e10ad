"""Reference implementations and small volumes shared by the data tests."""
import numpy as np


def random_volume(shape=(24, 40, 48), dtype=np.uint8, seed=0, high=200) -> np.ndarray:
  """A random volume whose values are below `high` (so `high` and above can mark sections)."""
  return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


def coordinate_volume(shape=(20, 30, 40)) -> np.ndarray:
  """float64 volume with value z * 1e6 + y * 1e3 + x, so every pixel of a crop says where it came from."""
  z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
  return (z * 1_000_000 + y * 1_000 + x).astype(np.float64)


def dihedral(region: np.ndarray, orientation: int) -> np.ndarray:
  """Orientation o of a lateral/clip region: o % 4 counter-clockwise quarter turns of the last two axes, then a
  flip of the last axis if o >= 4 (written with explicit transposes, independently of jax_iso.data.orient)."""
  out = region
  for _ in range(orientation % 4):
    out = np.swapaxes(out, -1, -2)[..., ::-1, :]       # one counter-clockwise quarter turn
  return out[..., ::-1] if orientation >= 4 else out


def axial_flip(region: np.ndarray, orientation: int) -> np.ndarray:
  """Orientation o of an axial region [h, w]: bit 0 flips Z (axis 0), bit 1 flips W (axis 1)."""
  out = region[::-1] if orientation & 1 else region
  return out[:, ::-1] if orientation & 2 else out


def take(it, n: int) -> list[np.ndarray]:
  return [next(it) for _ in range(n)]
