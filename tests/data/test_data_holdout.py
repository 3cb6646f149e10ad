"""Held-out sections: train crops never read them; eval crops always cover them."""
import pytest

from jax_iso import data

from data_helpers import random_volume

SENTINEL = 255
SIZES = {"lateral": (12, 12), "axial": (6, 12), "clip": (4, 12, 12)}


def _marked(shape, holdout, seed=0):
  """A random volume (< 200) whose held-out sections are SENTINEL, and how many sections that is."""
  vol = random_volume(shape, seed=seed)
  n_out = data.held_out(shape[0], holdout)
  vol[shape[0] - n_out:] = SENTINEL
  return vol, n_out


@pytest.mark.parametrize("kind", ["lateral", "axial", "clip"])
def test_train_crops_never_touch_held_out_sections(kind):
  holdout = 0.25                                           # per volume: 8 of 30, 4 of 17 held out
  vols = [_marked((30, 40, 40), holdout, seed=1)[0], _marked((17, 24, 36), holdout, seed=2)[0]]
  it = iter(data.crop_dataset(vols, kind=kind, size=SIZES[kind], batch_size=32, holdout=holdout, seed=1))
  for _ in range(20):
    assert not (next(it) == SENTINEL).any()


@pytest.mark.parametrize("kind", ["lateral", "axial", "clip"])
def test_eval_crops_come_from_the_held_out_sections(kind):
  vol, n_out = _marked((30, 40, 40), 0.1)
  assert n_out == 3
  crops = data.eval_crops([vol], kind=kind, size=SIZES[kind], count=64, holdout=0.1)
  hit = (crops == SENTINEL).reshape(64, -1)
  if kind == "lateral":
    assert hit.all()                                       # lateral eval crops lie inside the band
  else:
    assert hit.any(axis=1).all()                           # every eval crop covers held-out sections...
  stream = iter(data.crop_dataset([vol], kind=kind, size=SIZES[kind], split="eval", batch_size=16))
  assert (next(stream) == SENTINEL).reshape(16, -1).any(axis=1).all()


def test_eval_clips_start_in_the_band_when_it_is_deep_enough():
  vol, _ = _marked((40, 20, 20), 0.25)                     # 10 sections held out, clips of 4
  sampler = data.CropSampler([vol], kind="clip", size=(4, 8, 8), split="eval", holdout=0.25)
  starts = {sampler.crop(i).key[0].start for i in range(300)}
  assert starts == set(range(30, 37))


def test_eval_clips_end_at_the_last_section_when_the_band_is_thin():
  vol, _ = _marked((40, 20, 20), 0.05)                     # 2 sections held out, clips of 4
  sampler = data.CropSampler([vol], kind="clip", size=(4, 8, 8), split="eval", holdout=0.05)
  assert {(sampler.crop(i).key[0].start, sampler.crop(i).key[0].stop) for i in range(50)} == {(36, 40)}


def test_held_out_is_a_rounded_fraction_and_at_least_one_section():
  assert data.held_out(160, 0.1) == 16
  assert data.held_out(5, 0.01) == 1
  assert data.held_out(30, 0.0) == 0


def test_zero_holdout_uses_every_section_for_both_splits():
  vol = random_volume((6, 20, 20))
  for split in ("train", "eval"):
    sampler = data.CropSampler([vol], kind="lateral", size=(8, 8), split=split, holdout=0.0)
    assert {sampler.crop(i).key[0] for i in range(300)} == set(range(6))
