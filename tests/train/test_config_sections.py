"""Every method config and variant loads locked, takes its optimizer and mesh sections from `configs.common`, and
refuses an unknown variant with the one shared message."""
import importlib

import pytest

from configs import common
from jax_iso import runconfig

MODULES = ("a2i_3dem", "emdiffuse_n", "emdiffuse_r", "emformer", "sstem_restore", "unet", "vemdiffuse_a",
           "vemdiffuse_i")
CASES = [(name, variant) for name in MODULES
         for variant in (None,) + tuple(importlib.import_module(f"configs.{name}").VARIANTS)]


@pytest.fixture
def section_calls(monkeypatch):
  """Counts the calls of common.optim and common.mesh while a config is built."""
  calls = {"optim": 0, "mesh": 0}

  def counted(name, make):
    def call(*args, **kwargs):
      calls[name] += 1
      return make(*args, **kwargs)
    return call

  monkeypatch.setattr(common, "optim", counted("optim", common.optim))
  monkeypatch.setattr(common, "mesh", counted("mesh", common.mesh))
  return calls


@pytest.mark.parametrize("name, variant", CASES)
def test_every_config_and_variant_loads_locked_with_the_shared_sections(name, variant, section_calls):
  config = importlib.import_module(f"configs.{name}").get_config(variant)
  assert config.is_locked
  assert section_calls == {"optim": 1, "mesh": 1}
  assert list(config.optim.keys()) == list(common.optim(lr=1e-3, warmup_steps=0).keys())
  assert runconfig.to_json(config.mesh) == runconfig.to_json(common.mesh())
  runconfig.freeze(config)


@pytest.mark.parametrize("name", MODULES)
def test_an_unknown_variant_gives_the_one_shared_message(name):
  module = importlib.import_module(f"configs.{name}")
  with pytest.raises(ValueError) as err:
    module.get_config("nope")
  assert str(err.value) == str(common.unknown_variant(name, "nope", module.VARIANTS))
  assert str(err.value) == (f"unknown variant 'nope' of configs/{name}.py; use configs/{name}.py or "
                            f"configs/{name}.py:VARIANT with VARIANT one of {', '.join(module.VARIANTS)}")


def test_the_pretraining_config_builds_on_the_unet_config():
  from configs.pretrain import unet as pretrain_unet  # pylint: disable=g-import-not-at-top
  config = pretrain_unet.get_config()
  assert config.is_locked and config.optim.lr == 1e-3 and config.mesh.data == -1


def test_the_emformer_pretraining_config_teaches_one_factor_to_its_model():
  from configs.pretrain import emformer as pretrain_emformer  # pylint: disable=g-import-not-at-top
  from configs.pretrain import unet as pretrain_unet  # pylint: disable=g-import-not-at-top
  config = pretrain_emformer.get_config()
  assert config.data.factor == config.pairs.factor == config.model.factor == 4.0
  assert config.data.path == pretrain_unet.get_config().data.path          # the same volumes, the same held out
  assert config.pairs.drop_prob > 0.5 and config.pairs.drop_run == 3     # lost sections in most clips
  with pytest.raises(ValueError, match="configs/pretrain/emformer.py:tiny"):
    pretrain_emformer.get_config("nope")


def test_the_restoration_pretraining_recipe_resolves_on_its_volumes_and_holds_out_the_benchmark():
  """configs/pretrain/sstem_restore.py: the restoration `cpu` network on a mixture of volumes read 40-50 nm apart,
  without CREMI, ISBI 2012 and FlyEM sample2; its config resolves on the real volumes, and its triplets (crop and
  context) fit every one of them."""
  import pathlib  # pylint: disable=g-import-not-at-top
  from configs import sstem_restore  # pylint: disable=g-import-not-at-top
  from configs.pretrain import sstem_restore as recipe  # pylint: disable=g-import-not-at-top
  from jax_iso.data import CropSampler  # pylint: disable=g-import-not-at-top
  from jax_iso.train import resolve  # pylint: disable=g-import-not-at-top
  from jax_iso.train.inputs import crop_spec, open_inputs  # pylint: disable=g-import-not-at-top
  from shared_data import shared_file  # pylint: disable=g-import-not-at-top
  config = recipe.get_config()
  assert config.is_locked and config.method == "sstem_restore"
  names = [pathlib.Path(p).name for p in config.data.path.split(",")]
  assert names == [n for n, _ in recipe.SOURCES] and len(config.data.weights) == len(names)
  assert set(recipe.HELD_OUT) == {"cremi_sstem_crop_isovem_train.tif", "cremi_sstem_crop_isovem_val.tif",
                                  "cremi_sstem_crop_isovem_test.tif", "isbi2012_sstem_train.tif",
                                  "isbi2012_sstem_test.tif", "flyem_medulla_fibsem_10nm_iso_sample2.tif"}
  assert not set(names) & set(recipe.HELD_OUT) and not [n for n in names if n.startswith(("cremi", "isbi"))]
  assert config.data.frame_spacing == 4.0 and config.data.views == "all"
  assert runconfig.to_json(config.model) == runconfig.to_json(sstem_restore.get_config("cpu").model)   # cpu sizes
  assert config.train.steps == 20000 and config.train.ema == 0.999 and config.optim.schedule == "cosine"
  assert recipe.get_config("tiny").train.steps == 4
  with pytest.raises(ValueError, match="configs/pretrain/sstem_restore.py:tiny"):
    recipe.get_config("nope")
  for name in names:
    shared_file(name)                                       # skips where ../shared/data is absent
  inputs = open_inputs(config)
  try:
    resolved = resolve.resolve(runconfig.freeze(config), inputs)
    assert resolved.resolved.input_shape[0] == 4            # the two neighbours, the damaged section, its mask
    kind, size = crop_spec(config)
    CropSampler(inputs.volumes, kind=kind, size=size, weights=inputs.weights)   # every volume holds a triplet
    assert len(inputs.volumes) == 2 + 3 * 4 + 1             # the VNC stacks, FlyEM's views x 4 offsets, EPFL
  finally:
    inputs.close()
