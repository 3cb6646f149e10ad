"""Pure, keyed, jit/vmap-able degradations of EM volumes (jax.numpy), and their section grid."""
from jax_iso.degrade.axial import PROFILES, apply_weights, section_weights, simulate_axial
from jax_iso.degrade.grid import fine_count, section_centre, section_count
