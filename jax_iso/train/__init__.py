"""Training: mesh, train state, the pure sharded train step, the loop, checkpoints and export."""
from jax_iso.train.loop import TrainingDiverged, train_and_evaluate
