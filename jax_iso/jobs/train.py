"""`jax-iso train`: fit a learned method's model on a volume, after checking that the trained model will be
usable (its inference settings, through the method's strategy)."""
from __future__ import annotations

import pathlib

from jax_iso import runconfig
from jax_iso.infer import strategies


def train(config, workdir: str | pathlib.Path, *, show_progress: bool = True) -> dict:
  """`train_and_evaluate(config, workdir)` once `config`'s `infer` section passes its strategy's checks (so a
  typo there is found before training, not after it); returns the training summary."""
  # grain and optax come with the training engine: imported only when training
  from jax_iso.train import config_checks, train_and_evaluate  # pylint: disable=g-import-not-at-top
  config = runconfig.freeze(config)
  strategies.get(config_checks.method_of(config).strategy).check(config.infer)
  return train_and_evaluate(config, workdir, show_progress=show_progress)
