"""jax_iso: self-supervised isotropic reconstruction and restoration of volume EM in JAX/Flax.

Conventions used everywhere (see docs/formats.md, "Conventions"):
- volumes are (Z, Y, X) arrays; Z is the axial (cutting) axis; voxel spacing is (z, y, x) in nanometres;
- the anisotropy factor is s = z_spacing / xy_spacing (integer or fractional, s > 1);
- section k of an anisotropic volume integrates the fine slices [k*s, (k+1)*s), so its centre lies at
  (k + 0.5)*s - 0.5 on the fine grid, and N sections reconstruct to round(N*s) slices;
- intensities are mapped to [0, 1] for computation and back to the input's dtype on output.
"""

__version__ = "0.1.0"
