"""`python -m jax_iso ...` is `jax-iso ...`."""
from jax_iso.cli.main import run

run()
