"""Inference sizes from the device's memory: "auto" tile and batch sizes grow with the device, a device that
reports no memory (the CPU) gets the CPU sizes, numbers given are kept, and a real model's sizes fit."""
import math

import jax
import numpy as np
import pytest

from configs import unet
from jax_iso import device_memory, io, runconfig
from jax_iso.errors import UserError
from jax_iso.infer import clips, memory_defaults, planes, strategies
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.models import build_model, init_params
from jax_iso.models.loader import LoadedModel

GB = 10 ** 9
OPTIONS = {"tile": 256, "overlap": 32, "margin": 48, "batch_size": "auto", "fuse": "mean", "method": "cubic"}


class FakeDevice:
  """A device that reports `stats` as its memory (None: none, as the CPU)."""

  def __init__(self, stats, kind="Fake GPU"):
    self.stats, self.device_kind = stats, kind

  def memory_stats(self):
    return self.stats


class LinearModel:
  """A stand-in for `apply_fn.TileFn`: a call needs the parameters plus `per_px` bytes a pixel of its tiles."""

  def __init__(self, per_px, resident=100 * 10 ** 6):
    self.per_px, self.resident_bytes, self.calls = per_px, resident, []

  def call_bytes(self, shape):
    self.calls.append(tuple(shape))
    return self.resident_bytes + self.per_px * math.prod(shape)


def _memory(limit):
  return device_memory.device_memory(FakeDevice({"bytes_limit": limit, "bytes_in_use": 0}))


def _resolve(options, fn, limit, **kw):
  shapes = memory_defaults.tile_shapes(options, multiple=4, **kw)
  return memory_defaults.resolve(options, fn, shapes, memory=_memory(limit), n_devices=1)


def test_a_bigger_device_gets_a_bigger_batch_that_still_fits():
  window = (256 + 2 * 48) ** 2
  fn = LinearModel(per_px=GB // window)                   # about 1 GB a tile
  small, sizes16 = _resolve(OPTIONS, fn, 16 * GB)
  large, sizes80 = _resolve(OPTIONS, fn, 80 * GB)
  assert small["tile"] == large["tile"] == 256
  assert 8 <= small["batch_size"] < large["batch_size"] <= memory_defaults.MAX_PER_DEVICE
  for options, limit in ((small, 16 * GB), (large, 80 * GB)):
    b = options["batch_size"]
    assert fn.call_bytes((b, 352, 352)) <= memory_defaults.DEVICE_SHARE * limit
    room = memory_defaults.DEVICE_SHARE * limit
    assert b == memory_defaults.MAX_PER_DEVICE or fn.call_bytes((b + 1, 352, 352)) > room
  assert sizes16.batch_size == small["batch_size"] and sizes16.limit == 16 * GB and "Fake GPU" in sizes16.describe()


def test_an_auto_tile_grows_with_the_device():
  fn = LinearModel(per_px=8000)                           # a 1024 px tile (1120^2 px with margins): 10 GB
  auto = {**OPTIONS, "tile": "auto"}
  small, _ = _resolve(auto, fn, 16 * GB)
  large, _ = _resolve(auto, fn, 80 * GB)
  assert (small["tile"], large["tile"]) == (512, 1024)
  assert small["batch_size"] >= memory_defaults.MIN_PER_DEVICE and large["batch_size"] >= memory_defaults.MIN_PER_DEVICE
  given, _ = _resolve({**auto, "batch_size": 16}, fn, 80 * GB)   # room for 16 tiles of 512, not of 1024
  assert (given["tile"], given["batch_size"]) == (512, 16)


def test_planes_smaller_than_a_tile_get_the_smallest_tile_of_their_size():
  fn = LinearModel(per_px=1000)
  options, sizes = _resolve({**OPTIONS, "tile": "auto"}, fn, 80 * GB, planes=[(100, 120), (100, 90)])
  assert options["tile"] == 256
  assert sizes.tile_shape == (100 + 96, 120 + 96)        # one tile of the largest plane and its margins


@pytest.mark.parametrize("stats", [None, {}, {"bytes_in_use": 5}])
def test_a_device_that_reports_no_memory_gets_the_cpu_sizes_without_compiling(stats):
  assert device_memory.device_memory(FakeDevice(stats)) is None
  fn = LinearModel(per_px=1000)
  options, sizes = memory_defaults.resolve({**OPTIONS, "tile": "auto"}, fn, memory_defaults.tile_shapes(OPTIONS),
                                           memory=None)
  assert (options["tile"], options["batch_size"], sizes) == (memory_defaults.CPU_TILE, memory_defaults.CPU_BATCH,
                                                              None)
  assert fn.calls == []


def test_the_cpu_reports_no_memory():
  if jax.default_backend() != "cpu":
    pytest.skip("the CPU backend's behaviour")
  assert device_memory.local_memory() is None
  assert device_memory.host_bytes() > GB // 10


def test_numbers_given_are_kept_on_any_device():
  fn = LinearModel(per_px=1000)
  options, sizes = _resolve({**OPTIONS, "tile": (64, 96), "batch_size": "3"}, fn, 80 * GB)
  assert (options["tile"], options["batch_size"], sizes, fn.calls) == ((64, 96), 3, None, [])


def test_a_tile_too_big_for_the_device_is_one_line_naming_infer_tile():
  with pytest.raises(UserError, match=r"one tile of 1120 x 1120 px per device needs .* GB .*set infer\.tile "
                                      r"below 1024 \(now 1024\)"):
    _resolve({**OPTIONS, "tile": 1024}, LinearModel(per_px=20000), 16 * GB)


@pytest.mark.parametrize("name, value, fragment", [
    ("batch_size", 0, "infer.batch_size=0 must be >= 1"),
    ("batch_size", "many", "infer.batch_size=many must be >= 1"),
    ("tile", 2.5, "infer.tile=2.5 must be >= 1"),
])
def test_bad_sizes_are_one_line_errors_and_auto_passes_the_checks(name, value, fragment):
  strategies.get("planes").check({**OPTIONS, "tile": "auto", "batch_size": "AUTO"})
  with pytest.raises(UserError, match=fragment):
    planes.check({**OPTIONS, name: value})


def test_the_clips_tile_stays_a_number():
  options = {"frames": 4, "frame_overlap": 1, "tile": 32, "overlap": 4, "batch_size": "auto", "tta": 1}
  clips.check(options)
  with pytest.raises(UserError, match="give it in px"):
    clips.check({**options, "tile": "auto"})


@pytest.fixture(scope="module")
def tiny_unet():
  config = runconfig.freeze(unet.get_config("tiny"))
  model = build_model(config.model)
  params = init_params(model, jax.random.key(0), (1, 32, 32))
  return LoadedModel(model, params, config, 0, "test")


def test_a_real_models_derived_batch_fits_what_xla_compiles(tiny_unet):
  fn = make_apply_fn(tiny_unet.model, tiny_unet.params)
  shapes = memory_defaults.tile_shapes(OPTIONS, multiple=4)
  one = fn.call_bytes((1,) + shapes(64))
  assert one > fn.resident_bytes > 0
  limit = int((fn.resident_bytes + 5 * (one - fn.resident_bytes)) / memory_defaults.DEVICE_SHARE) + 1
  options, sizes = memory_defaults.resolve({**OPTIONS, "tile": 64}, fn, shapes, memory=_memory(limit), n_devices=1)
  assert 2 <= options["batch_size"] <= 5
  assert sizes.need == fn.call_bytes((options["batch_size"],) + shapes(64)) <= memory_defaults.DEVICE_SHARE * limit


def test_the_planes_strategy_sized_to_a_device_writes_what_fixed_sizes_write(tiny_unet, monkeypatch):
  rng = np.random.default_rng(0)
  src = rng.integers(0, 256, (6, 40, 44), dtype=np.uint8)
  intensity = io.Intensity(0.0, 255.0, np.dtype(np.uint8))

  def reconstruct(options):
    sink = np.zeros((12, 40, 44), np.uint8)
    job = strategies.Job(factor=2.0, intensity=intensity, options=options, model=tiny_unet, progress=False)
    return sink, planes.run(src, sink, job)

  fixed, summary = reconstruct({**OPTIONS, "batch_size": 2})
  assert "auto_sizes" not in summary
  monkeypatch.setattr(device_memory, "local_memory", lambda devices=None: _memory(64 * 10 ** 6))
  auto, summary = reconstruct({**OPTIONS, "tile": "auto"})
  assert "tiles of 108 x 140 a call (tile 256)" in summary["auto_sizes"]   # a 12 x 44 plane and its margins
  assert np.abs(auto.astype(int) - fixed).max() <= 1
