"""File-level jobs behind the `jax-iso` subcommands (also the Python/Colab entry points).

Each job validates its inputs (raising `UserError` before anything is written), streams the volume through the
library (io -> degrade / infer -> io) and returns a JSON-able summary. The CLI only parses flags and calls one.
Methods come from the registry (`jax_iso.methods`); `apply.py` holds the volume-and-grid setup and the run of a
method's inference strategy that reconstruct and predict share.
"""
from jax_iso.jobs.demo import demo
from jax_iso.jobs.evaluate import evaluate
from jax_iso.jobs.predict import predict
from jax_iso.jobs.reconstruct import reconstruct
from jax_iso.jobs.restore import restore
from jax_iso.jobs.emdiffuse import denoise, superres
from jax_iso.jobs.simulate import simulate
from jax_iso.jobs.train import train
from jax_iso.jobs.validate import validate
