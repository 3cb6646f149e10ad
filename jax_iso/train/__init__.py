"""Training: train state, the pure sharded train step, objectives, setup and loop, checkpoints and export.

    summary = train_and_evaluate(config, workdir)     # or, piece by piece: with setup(config, workdir) as run: ...
"""
from jax_iso.train.loop import TrainingDiverged, train_and_evaluate
from jax_iso.train.run import Run, setup
