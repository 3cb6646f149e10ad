"""Damage detection on real EM crops with damage from the simulators of `jax_iso.degrade` (fixed keys)."""
import jax
import numpy as np
import pytest
import tifffile
from scipy import ndimage as ndi

from jax_iso import io
from jax_iso.degrade.fold import fold
from jax_iso.degrade.precipitates import precipitates
from jax_iso.errors import UserError
from jax_iso.detect import damage
from jax_iso.detect.damage import KINDS, detect_damage, parse_kinds

from shared_data import shared_file


def _crop(name, first=0, depth=12, edge=256, y=128, x=128):
  """`depth` sections from `first` of an `edge`^2 crop of a real volume in ../shared/data, float32 in [0, 1]."""
  vol = tifffile.imread(shared_file(name))
  return vol[first:first + depth, y:y + edge, x:x + edge].astype(np.float32) / 255


@pytest.fixture(scope="module")
def isbi():
  """12 x 256^2 of ISBI 2012 train (ssTEM, 4 x 4 x 50 nm), clear of its real precipitates (slices 4 and 20)."""
  return _crop("isbi2012_sstem_train.tif")


@pytest.fixture(scope="module")
def cremi():
  """12 x 256^2 of the CREMI train crop (ssTEM, 4 x 4 x 40 nm), after its defocused slices 3, 9 and 12."""
  return _crop("cremi_sstem_crop_isovem_train.tif", first=13, y=32, x=32)


def _only(found, index, kind):
  """The one damaged section found, checked to be `index` with `kind`."""
  assert [d.index for d in found] == [index], found
  assert kind in found[0].kinds, found
  return found[0]


@pytest.mark.parametrize("volume", ["isbi", "cremi"])
def test_clean_volumes_have_no_damage(volume, request):
  vol = request.getfixturevalue(volume)
  found, masks = detect_damage(vol)
  assert found == [] and masks == {}


def test_blank_and_mean_filled_sections_are_missing(isbi, tmp_path):
  vol = isbi.copy()
  vol[3] = 0.0
  vol[8] = vol[8].mean()
  path = str(tmp_path / "v.tif")
  io.write_volume(path, np.rint(vol * 255).astype(np.uint8), (50.0, 4.0, 4.0))
  src = io.open_volume(path)                             # a lazy source, read section by section
  found, masks = detect_damage(src)
  assert [(d.index, d.kinds) for d in found] == [(3, ("missing",)), (8, ("missing",))]
  assert all(masks[k].all() and masks[k].shape == (256, 256) for k in (3, 8))
  assert found[0].fraction == 1.0 and "constant" in found[0].detail


def test_copied_and_patched_sections_are_missing(isbi):
  vol = isbi.copy()
  vol[4] = vol[3]                                        # lost, filled from the section below
  vol[8] = 0.5 * (vol[7] + vol[9])                       # lost, patched by the mean of its neighbours
  found, _ = detect_damage(vol)
  assert [(d.index, d.kinds) for d in found] == [(4, ("missing",)), (8, ("missing",))]
  assert "copy of section 3" in found[0].detail and "mean of sections 7 and 9" in found[1].detail


@pytest.mark.slow
def test_fold_is_found_with_its_band(isbi):
  vol = isbi.copy()
  y, aux = fold(jax.random.key(3), vol[6])
  vol[6] = np.asarray(y)
  found, masks = detect_damage(vol)
  hit = _only(found, 6, "fold")
  band = np.asarray(aux["mask"]) > 0.5
  assert (masks[6] & band).sum() >= 0.8 * band.sum()     # the band is inside the mask...
  assert masks[6].sum() <= 3 * band.sum() + 8 * 256     # ...which is not much more than the band
  assert hit.kinds == ("fold",) and 0 < hit.fraction < 0.5 and "dark band" in hit.detail


def test_thin_fold_is_found_in_cremi(cremi):
  vol = cremi.copy()
  y, aux = fold(jax.random.key(11), vol[5], line_width=(5.0, 5.0), band_darkness=(0.75, 0.75))
  vol[5] = np.asarray(y)
  found, masks = detect_damage(vol)
  _only(found, 5, "fold")
  band = np.asarray(aux["mask"]) > 0.5
  assert (masks[5] & band).sum() >= 0.8 * band.sum()


@pytest.mark.slow
def test_precipitates_are_found_with_their_blobs(cremi):
  vol = cremi.copy()
  y, aux = precipitates(jax.random.key(5), vol[7], count=(4, 4), area=(100.0, 2000.0))
  vol[7] = np.asarray(y)
  found, masks = detect_damage(vol)
  hit = _only(found, 7, "precipitate")
  labels, n = ndi.label(np.asarray(aux["mask"]) > 0.5)
  assert n >= 3
  for i in range(1, n + 1):
    blob = labels == i
    if blob.sum() >= 100:                                # every large blob is covered
      assert (masks[7] & blob).sum() >= 0.9 * blob.sum()
  assert hit.fraction < 0.2 and "contrast" in hit.detail


def test_defocused_section_is_found(isbi):
  vol = isbi.copy()
  vol[5] = ndi.gaussian_filter(vol[5], 2.0)
  found, masks = detect_damage(vol)
  hit = _only(found, 5, "defocus")
  assert hit.kinds == ("defocus",) and masks[5].all()


def test_kinds_limit_what_is_reported(isbi):
  vol = isbi.copy()
  vol[2] = 0.0
  vol[6] = np.asarray(fold(jax.random.key(3), vol[6])[0])
  vol[9] = ndi.gaussian_filter(vol[9], 3.0)
  found, masks = detect_damage(vol, kinds=("fold", "defocus"), dilate=0)
  assert [(d.index, d.kinds) for d in found] == [(6, ("fold",)), (9, ("defocus",))]
  again, masks2 = detect_damage(vol, kinds=("fold", "defocus"), dilate=0)
  assert again == found and all(np.array_equal(masks[k], masks2[k]) for k in masks)   # deterministic
  wide, masks3 = detect_damage(vol, kinds=("fold",), dilate=6)
  assert [d.index for d in wide] == [6] and masks3[6].sum() > masks[6].sum()


def test_large_sections_are_analysed_downsampled(isbi, monkeypatch):
  monkeypatch.setattr(damage, "WORK_EDGE", 128)          # 256^2 sections read as 2 x 2 block means
  vol = isbi.copy()
  y, aux = fold(jax.random.key(3), vol[6])
  vol[6] = np.asarray(y)
  vol[2] = 0.0
  found, masks = detect_damage(vol)
  assert [(d.index, d.kinds) for d in found] == [(2, ("missing",)), (6, ("fold",))]
  band = np.asarray(aux["mask"]) > 0.5
  assert masks[6].shape == (256, 256) and (masks[6] & band).sum() >= 0.8 * band.sum()


def test_two_sections_get_the_per_section_tests_only(isbi):
  vol = isbi[:2].copy()
  vol[1] = 0.0
  found, _ = detect_damage(vol)
  assert [(d.index, d.kinds) for d in found] == [(1, ("missing",))]


@pytest.mark.slow
def test_real_artifacts_are_found():
  """ISBI train slice 20's cluster of staining precipitates; CREMI val slice 3, a lost section its providers
  patched with the mean of slices 2 and 4. Nothing else in either volume."""
  found, masks = detect_damage(io.open_volume(str(shared_file("isbi2012_sstem_train.tif"))))
  assert [(d.index, d.kinds) for d in found] == [(20, ("precipitate",))]
  ys, xs = np.nonzero(masks[20])
  assert 100 <= ys.min() and ys.max() <= 180 and 310 <= xs.min() and xs.max() <= 460   # the cluster only
  found, _ = detect_damage(io.open_volume(str(shared_file("cremi_sstem_crop_isovem_val.tif"))))
  assert [(d.index, d.kinds) for d in found] == [(3, ("missing",))]


def test_parse_kinds():
  assert parse_kinds("auto") == KINDS
  assert parse_kinds(" precipitate, fold ") == ("fold", "precipitate")
  with pytest.raises(UserError, match="'folds'.*missing, fold, precipitate, defocus") as err:
    parse_kinds("folds,missing")
  assert "\n" not in str(err.value)
  with pytest.raises(UserError):
    parse_kinds("")
  with pytest.raises(UserError):
    detect_damage(np.zeros((3, 8, 8), np.float32), kinds=("blur",))
