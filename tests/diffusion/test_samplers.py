"""Samplers on problems with known answers: a single data point, a Gaussian data distribution."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.diffusion import losses, samplers, schedules

LINEAR = schedules.get({"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2})
COSINE = schedules.get({"name": "cosine"})


def _alpha_sigma(log_snr, like):
  """alpha, sigma from the noise level the network sees (alpha^2 = sigmoid(log SNR))."""
  a = jnp.sqrt(jax.nn.sigmoid(log_snr)).reshape((-1,) + (1,) * (like.ndim - 1))
  s = jnp.sqrt(jax.nn.sigmoid(-log_snr)).reshape(a.shape)
  return a, s


def point_denoiser(point, prediction):
  """The exact network when all data is `point`: x0 = point whatever z, expressed as `prediction`."""
  def denoise(z, log_snr):
    a, s = _alpha_sigma(log_snr, z)
    eps = (z - a * point) / s
    return losses.target(prediction, jnp.broadcast_to(point, z.shape), eps, a[:, 0, 0], s[:, 0, 0])
  return denoise


def gaussian_denoiser(mu, var):
  """E[x0 | z] for x0 ~ N(mu, var) per pixel (x0-prediction)."""
  def denoise(z, log_snr):
    a, s = _alpha_sigma(log_snr, z)
    return mu + a * var / (a ** 2 * var + s ** 2) * (z - a * mu)
  return denoise


CASES = [("ddpm", 100, 0.0), ("ddim", 50, 0.0), ("ddim", 20, 0.5), ("dpm2m", 10, 0.0), ("dpm2m", 5, 0.0)]


@pytest.mark.parametrize("schedule", [LINEAR, COSINE], ids=["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
@pytest.mark.parametrize("sampler, steps, eta", CASES)
def test_a_single_data_point_is_recovered(schedule, prediction, sampler, steps, eta):
  point = jnp.asarray(np.random.default_rng(0).uniform(-0.9, 0.9, (1, 6, 5)), jnp.float32)
  z = jax.random.normal(jax.random.key(1), (3, 6, 5))
  x = samplers.sample(point_denoiser(point, prediction), schedule, z, jax.random.key(2), sampler=sampler,
                      steps=steps, eta=eta, prediction=prediction, clip=None)
  # the last step lands on the clean estimate, which the exact network gives as the point up to float32 rounding
  # of (z - alpha p) / sigma and back (sigma >= 0.01 at the last evaluated time: <= 1e-4 relative)
  np.testing.assert_allclose(np.asarray(x), np.broadcast_to(np.asarray(point), x.shape), atol=2e-4)


MU, VAR = 0.2, 0.25


def _ode_error(schedule, sampler, steps, spacing):
  """RMS distance (relative to the data's std) of a deterministic sampler's output from the exact map of the
  probability-flow ODE for Gaussian data: x0 = mu + std (z - alpha_1 mu) / sqrt(alpha_1^2 var + sigma_1^2)."""
  z = jax.random.normal(jax.random.key(3), (4, 2500))
  a, s = (float(v) for v in schedule.alpha_sigma(jnp.asarray(1.0)))
  exact = MU + np.sqrt(VAR) * (np.asarray(z) - a * MU) / np.sqrt(a * a * VAR + s * s)
  x = samplers.sample(gaussian_denoiser(MU, VAR), schedule, z, None, sampler=sampler, steps=steps,
                      prediction="x0", clip=None, spacing=spacing)
  return float(np.sqrt(np.mean((np.asarray(x) - exact) ** 2)) / np.sqrt(VAR))


@pytest.mark.slow
@pytest.mark.parametrize("schedule", [LINEAR, COSINE], ids=["linear", "cosine"])
@pytest.mark.parametrize("spacing", samplers.SPACINGS)
def test_deterministic_samplers_follow_the_exact_ode_at_their_order(schedule, spacing):
  # DDIM is first order (the error halves when the steps double), DPM-Solver++(2M) second (it falls by ~4);
  # errors from the exact map, measured on this problem: DDIM 0.008-0.016 at 200 steps, 2M 0.002-0.007 at 40
  ddim = [_ode_error(schedule, "ddim", n, spacing) for n in (100, 200)]
  assert ddim[1] < 0.025 and 1.7 < ddim[0] / ddim[1] < 2.3
  dpm = [_ode_error(schedule, "dpm2m", n, spacing) for n in (10, 20, 40)]
  assert dpm[2] < 0.012 and dpm[2] < dpm[1] < dpm[0] < 0.2
  if spacing == "log_snr":    # away from the floor of float32 rounding, the second order shows
    assert dpm[1] / dpm[2] > 3.0


@pytest.mark.parametrize("schedule", [LINEAR, COSINE], ids=["linear", "cosine"])
@pytest.mark.parametrize("sampler, steps, eta", [("ddpm", 400, 0.0), ("ddim", 200, 0.5)])
def test_stochastic_samplers_give_gaussian_data_its_mean_and_variance(schedule, sampler, steps, eta):
  z = jax.random.normal(jax.random.key(3), (4, 10000))
  x = np.asarray(samplers.sample(gaussian_denoiser(MU, VAR), schedule, z, jax.random.key(5), sampler=sampler,
                                 steps=steps, eta=eta, prediction="x0", clip=None))
  # 40,000 draws: standard error of the mean 0.0025 and of the std 0.35 % (4 of them: 0.01 and 1.4 %), plus the
  # samplers' discretisation error at these step counts (<= 1.6 % of the std, measured)
  assert abs(x.mean() - MU) < 0.01
  assert abs(x.std() / np.sqrt(VAR) - 1.0) < 0.03


@pytest.mark.slow
def test_ddim_with_eta_0_is_deterministic_and_ddpm_is_not():
  z = jax.random.normal(jax.random.key(5), (2, 64))
  f = gaussian_denoiser(0.0, 0.25)
  run = lambda s, key, eta=0.0: np.asarray(samplers.sample(f, LINEAR, z, key, sampler=s, steps=20, eta=eta,
                                                           prediction="x0"))
  np.testing.assert_array_equal(run("ddim", jax.random.key(0)), run("ddim", jax.random.key(1)))
  np.testing.assert_array_equal(run("dpm2m", None), run("dpm2m", jax.random.key(1)))
  assert np.abs(run("ddpm", jax.random.key(0)) - run("ddpm", jax.random.key(1))).max() > 0.01
  assert np.abs(run("ddim", jax.random.key(0), 1.0) - run("ddim", jax.random.key(1), 1.0)).max() > 0.01


def test_ddpm_is_ddim_with_eta_1():
  """The posterior step (the reference's formula) and DDIM with eta = 1 are the same map given the same noise."""
  z = jax.random.normal(jax.random.key(6), (2, 64))
  f = gaussian_denoiser(0.1, 0.1)
  kw = dict(steps=25, prediction="x0", key=jax.random.key(7))
  a = samplers.sample(f, LINEAR, z, sampler="ddpm", **kw)
  b = samplers.sample(f, LINEAR, z, sampler="ddim", eta=1.0, **kw)
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_noise_comes_from_noise_fn():
  z = jnp.zeros((1, 16))
  f = gaussian_denoiser(0.0, 0.25)
  calls = lambda fn: np.asarray(samplers.sample(f, LINEAR, z, sampler="ddpm", steps=10, prediction="x0",
                                                noise_fn=fn))
  same = calls(lambda i: jnp.ones((1, 16)) * jnp.sin(i + 1.0))
  np.testing.assert_array_equal(same, calls(lambda i: jnp.ones((1, 16)) * jnp.sin(i + 1.0)))
  assert np.ptp(same) == 0.0     # noise equal at every pixel, input equal: output equal at every pixel


@pytest.mark.slow
def test_time_grids_fall_from_1_to_0():
  for spacing in samplers.SPACINGS:
    for s in (LINEAR, COSINE):
      ts = np.asarray(samplers.time_grid(s, 8, spacing))
      assert ts.shape == (9,) and ts[0] == 1.0 and ts[-1] == 0.0 and np.all(np.diff(ts) < 0)
  snr = np.asarray(LINEAR.log_snr(samplers.time_grid(LINEAR, 8, "log_snr")[:-1]))
  np.testing.assert_allclose(np.diff(snr[1:]), np.diff(snr[1:]).mean(), rtol=1e-3)  # uniform in log SNR


def test_bad_sampler_arguments():
  z = jnp.zeros((1, 4))
  f = gaussian_denoiser(0.0, 1.0)
  with pytest.raises(ValueError, match="unknown sampler 'euler'"):
    samplers.sample(f, LINEAR, z, sampler="euler")
  with pytest.raises(ValueError, match="at least 1 step"):
    samplers.sample(f, LINEAR, z, sampler="ddim", steps=0)
  with pytest.raises(ValueError, match="needs a key"):
    samplers.sample(f, LINEAR, z, sampler="ddpm")
