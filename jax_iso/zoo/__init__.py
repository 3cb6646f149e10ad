"""Sharing trained models as BioImage Model Zoo packages (model format 0.5, ONNX weights converted from JAX).

    from jax_iso.zoo import export_bioimageio
    export_bioimageio("runs/unet", "unet_zoo.zip")      # `jax-iso export --format=bioimageio`

Modules: `onnx_export` + `onnx_ops` (a JAX function -> ONNX, by its jaxpr), `tile` (the model's tile and a test
tile from a real volume), `rdf` (the description), `package` (the files, checked with onnxruntime, written
atomically). Needs the `bioimageio` extra (onnx, onnxruntime): `pip install jax_iso[bioimageio]`.
"""
from __future__ import annotations

from jax_iso.zoo.package import FEED_FORWARD, check_exportable, export_bioimageio

__all__ = ["FEED_FORWARD", "check_exportable", "export_bioimageio"]
