"""Quality metrics of isotropic reconstructions: PSNR, SSIM, FSC, reference-free spectral resolution, report."""
from jax_iso.metrics.evaluation import evaluate, evaluate_reference_free
from jax_iso.metrics.fourier_shells import FSCResult, fsc, self_fsc
from jax_iso.metrics.resolution import ResolutionValue, halfbit_threshold
from jax_iso.metrics.signal_to_noise import psnr, psnr_per_orientation
from jax_iso.metrics.spectral import SpectralResult, spectral_resolution
from jax_iso.metrics.ssim import ssim_per_orientation
from jax_iso.metrics.table import format_table

__all__ = [
    "FSCResult", "ResolutionValue", "evaluate", "evaluate_reference_free", "format_table", "fsc",
    "SpectralResult", "halfbit_threshold", "psnr", "psnr_per_orientation", "self_fsc", "spectral_resolution",
    "ssim_per_orientation",
]
