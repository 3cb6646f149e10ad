"""Quality metrics of isotropic reconstructions: PSNR, SSIM, FSC (with and without reference), report."""
from jax_iso.metrics.evaluation import evaluate, evaluate_reference_free
from jax_iso.metrics.fourier_shells import FSCResult, fsc, self_fsc
from jax_iso.metrics.resolution import ResolutionValue, halfbit_threshold
from jax_iso.metrics.signal_to_noise import psnr, psnr_per_orientation
from jax_iso.metrics.ssim import ssim_per_orientation
from jax_iso.metrics.table import format_table

__all__ = [
    "FSCResult", "ResolutionValue", "evaluate", "evaluate_reference_free", "format_table", "fsc",
    "halfbit_threshold", "psnr", "psnr_per_orientation", "self_fsc", "ssim_per_orientation",
]
