"""Whole-volume reconstruction: interpolation baselines and 2D models over planes, streamed in slabs.

The resampling math lives in `jax_iso.degrade.resample`, shared with the training-pair makers. A method
reconstructs through its inference strategy (`strategies`: "interpolate", "planes", "clips", "diffusion",
"between", "sections"), each in the module of its name. A 2D model runs over tiled planes (`predict_planes`,
`Tiling`) of both axial orientations, fused and written slab by slab, resumable after a kill
(`reconstruct_planes`, `Resume`, `fingerprint`). Tile and batch sizes set to "auto" are derived from the device's
memory (`memory_defaults`). Damaged and lost sections are found by `jax_iso.detect`.
"""
from jax_iso.degrade.resample import METHODS as INTERPOLATION_METHODS
from jax_iso.degrade.resample import interp_weights, keys_cubic
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.infer.interpolate import interpolate_volume
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.budget import plan_slab
from jax_iso.infer.plane_passes import FUSES, Memory, Resume, fuse_predictions, reconstruct_planes
from jax_iso.infer.resume import fingerprint
from jax_iso.infer.tiles import Tiling, plan_tiles, predict_planes
from jax_iso.infer import strategies
