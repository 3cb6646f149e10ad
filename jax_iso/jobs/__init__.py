"""File-level jobs behind the `jax-iso` subcommands (also the Python, Colab and napari entry points).

Every job is one use of the pipeline (`pipeline.py`): its settings checked once into an options object
(`options.py`), the input opened and its grid resolved once, a model obtained by one route (`model_route.py`:
none, fitted, loaded, pretrained or fine-tuned), the method's strategy run, the output written atomically. What
differs between jobs is a task's hooks: `isotropic.py` (reconstruct, predict), `section_tasks.py` (denoise,
superres), `restore.py`. `validate` and `demo` run reconstructions; `evaluate`, `simulate` and `train` stand
alone. Each returns a JSON-able summary; bad input raises UserError before anything is written.
"""
from jax_iso.jobs.demo import demo
from jax_iso.jobs.evaluate import evaluate
from jax_iso.jobs.predict import predict
from jax_iso.jobs.reconstruct import reconstruct
from jax_iso.jobs.restore import restore
from jax_iso.jobs.section_tasks import denoise, superres
from jax_iso.jobs.simulate import simulate
from jax_iso.jobs.train import train
from jax_iso.jobs.validate import validate
