"""The `jax-iso` command line (absl flags); see `jax_iso.cli.main`."""
