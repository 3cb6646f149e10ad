"""One config form: every form freezes to the same frozen config, read-only, with a JSON form to compare by."""
import json

import ml_collections
import pytest

from configs import a2i_3dem
from jax_iso import runconfig


def test_every_form_freezes_to_the_same_config():
  config = a2i_3dem.get_config("tiny")
  forms = [config, runconfig.freeze(config), config.to_dict(), json.loads(config.to_json_best_effort())]
  frozen = [runconfig.freeze(f) for f in forms]
  assert all(isinstance(f, ml_collections.FrozenConfigDict) for f in frozen)
  assert all(runconfig.to_json(f) == runconfig.to_json(config) for f in frozen)
  assert runconfig.freeze(frozen[1]) is frozen[1]                       # frozen once, passed on as it is
  assert frozen[3].model.depths == (1, 1, 1)                            # JSON lists come back as tuples
  assert runconfig.to_dict(frozen[3])["pairs"]["phase"] == (0.0, 1.0)
  with pytest.raises(AttributeError):
    frozen[0].data.crop = 64


def test_replace_sets_sections_and_merges_mappings():
  config = runconfig.freeze(a2i_3dem.get_config("tiny"))
  changed = runconfig.replace(config, pairs={"factor": 2.5}, seed=3)
  assert changed.pairs.factor == 2.5 and changed.pairs.kind == "axial" and changed.seed == 3
  assert config.pairs.factor == 4.0 and config.seed == 0                # the original is untouched


def test_a_non_mapping_is_refused():
  with pytest.raises(TypeError, match="a config must be a ConfigDict or a mapping"):
    runconfig.freeze(["model"])
