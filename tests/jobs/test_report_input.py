"""The evaluate report draws the input's sections on the prediction's fine grid beside the prediction."""
import numpy as np
import pytest

from jax_iso import io, jobs
from jax_iso.jobs.evaluate import SectionsOnGrid, _input_view
from jax_iso.samples import FIBSEM_10NM


def test_sections_on_the_fine_grid_repeat_each_section_over_the_slices_it_covers():
  sections = np.arange(5 * 3 * 4, dtype=np.uint8).reshape(5, 3, 4)
  view = SectionsOnGrid(sections, 2.5, 12)                     # round(5 * 2.5) = 12 fine slices
  owner = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4])       # the section whose [k*s, (k+1)*s) holds j + 0.5
  np.testing.assert_array_equal(view[:, 1, :], sections[owner, 1, :])
  np.testing.assert_array_equal(view[7], sections[3])
  np.testing.assert_array_equal(view[3:9, 0:2, 1], sections[owner[3:9], 0:2, 1])
  assert view.shape == (12, 3, 4)


@pytest.mark.slow
def test_a_reconstruction_knows_its_input_and_a_foreign_volume_does_not(tmp_path):
  aniso, recon = tmp_path / "x4.tif", tmp_path / "iso.tif"
  jobs.simulate(str(FIBSEM_10NM), str(aniso), factor=4.0)
  jobs.reconstruct(str(aniso), str(recon), method="cubic")
  view, to_unit = _input_view(str(recon), (160, 160, 160), None, None)
  try:
    np.testing.assert_array_equal(view[83], io.read_volume(aniso)[0][20])     # fine slice 83 lies in section 20
    assert to_unit(np.uint8(255)) == 1.0
  finally:
    view.src.close()
  assert _input_view(str(FIBSEM_10NM), (160, 160, 160), None, None) == (None, None)
  out = jobs.evaluate(str(recon), str(FIBSEM_10NM), report_dir=str(tmp_path / "report"))
  assert (tmp_path / "report" / "orthoslices.png").exists() and out["psnr"] > 25
