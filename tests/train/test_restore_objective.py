"""The ssTEM restoration objective: its value against the modules' outputs computed separately, the correction
left out for a missing section, the fold's flow supervised, and a tiny fit on real ssTEM section pairs."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile

from configs import sstem_restore
from jax_iso import runconfig
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.models import build_model, init_params
from jax_iso.train import objectives
from shared_data import shared_file
from test_diffusion_objective import _fit

CONFIG = sstem_restore.get_config("tiny")


@functools.cache
def _pairs(seed=0):
  """6 section pairs (tiny config: 32 px crops, 8 px context) of real ISBI 2012 sections, every kind."""
  v = tifffile.imread(shared_file("isbi2012_sstem_train.tif")).astype(np.float32) / 255
  triplets = jnp.asarray(np.stack([v[2 * i:2 * i + 3, 100 + 40 * i:148 + 40 * i, 200:248] for i in range(6)]))
  make = jax.jit(pairs.make_batch_fn(runconfig.to_json(CONFIG)["pairs"]))
  return make(jax.random.key(seed), triplets)


@pytest.mark.slow
def test_loss_is_the_sum_of_the_module_losses():
  inp, target, aux = _pairs()
  assert inp.shape == (6, 4, 32, 32) and target.shape == (6, 32, 32)
  kinds = CONFIG.pairs.kinds
  assert set(np.asarray(aux["kind"]).tolist()) == set(range(len(kinds)))
  net = build_model(CONFIG.model)
  params = init_params(net, jax.random.key(1), inp.shape)
  objective = objectives.make("restore", CONFIG)
  value = np.asarray(objective.loss(net, params, inp, target, jax.random.key(2), aux))
  out = jax.tree.map(np.asarray, net.apply(params, inp))
  t = np.asarray(target)
  l1 = lambda a: np.abs(a - t).reshape(6, -1).mean(axis=1)
  kind = np.asarray(aux["kind"])
  flow = np.abs(out["flow"] - np.asarray(aux["flow"])).reshape(6, -1).mean(axis=1) / CONFIG.model.flow_scale
  want = (l1(out["interp"]) + (kind != kinds.index("missing")) * l1(out["corrected"]) + l1(out["fused"])
          + CONFIG.restore.flow_weight * (kind == kinds.index("fold")) * flow)
  np.testing.assert_allclose(value, want, rtol=1e-5)
  assert np.any(np.asarray(aux["flow"])[kind == kinds.index("fold")])     # the folds' flows are supervised


@pytest.mark.slow
def test_a_tiny_fit_lowers_the_loss():
  inp, target, aux = _pairs()
  net = build_model(CONFIG.model)
  params = jax.jit(lambda k: init_params(net, k, inp.shape))(jax.random.key(0))
  objective = objectives.make("restore", CONFIG)
  first, last = _fit(lambda p: objective.loss(net, p, inp, target, jax.random.key(0), aux).mean(), params,
                     steps=60)
  assert last < 0.85 * first, (first, last)    # measured: 0.353 -> 0.270 after 60 steps (0.209 after 120)


def test_config_checks():
  config = runconfig.to_json(CONFIG)
  config["pairs"]["mask_input"] = False
  with pytest.raises(UserError, match="pairs.mask_input=True"):
    objectives.make("restore", config)
  config = runconfig.to_json(CONFIG)
  config["restore"]["flow_weight"] = -1
  with pytest.raises(UserError, match="restore.flow_weight=-1 must be >= 0"):
    objectives.make("restore", config)


@pytest.mark.slow
def test_mask_channel_is_the_dilated_damage():
  inp, _, aux = _pairs()
  m = np.asarray(aux["mask"]) > 0.1
  got = np.asarray(inp[:, 3])
  assert set(np.unique(got)) <= {0.0, 1.0}
  assert np.all(got[m] == 1)                                          # covers the damage ...
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  want = np.stack([ndimage.maximum_filter(mi.astype(np.float32), size=2 * CONFIG.pairs.mask_dilate + 1,
                                          mode="constant") for mi in m])
  np.testing.assert_array_equal(got, want)                            # ... dilated by mask_dilate px
  np.testing.assert_allclose(np.asarray(aux["baseline"]), 0.5 * np.asarray(inp[:, 0] + inp[:, 2]), atol=1e-6)
