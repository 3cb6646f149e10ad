"""How the anisotropy factor is decided from the factor and spacing settings and the file's voxel size."""
import pytest

from jax_iso.errors import UserError
from jax_iso.io.factor import check_factor, resolve_factor


def test_factor_from_the_file_spacing():
  assert resolve_factor(None, None, (40.0, 4.0, 4.0)) == (10.0, (40.0, 4.0, 4.0))


def test_spacing_flag_overrides_the_file():
  assert resolve_factor(None, (50.0, 5.0, 5.0), (10.0, 10.0, 10.0)) == (10.0, (50.0, 5.0, 5.0))


def test_factor_agreeing_with_the_spacing_is_accepted():
  assert resolve_factor(2.5, None, (25.0, 10.0, 10.0)) == (2.5, (25.0, 10.0, 10.0))
  assert resolve_factor(10.0, None, (50.0, 4.95, 5.0))[0] == 10.0     # within 1 %


def test_factor_without_any_spacing():
  assert resolve_factor(3.0, None, None) == (3.0, None)


@pytest.mark.parametrize("args, match", [
    ((4.0, None, (10.0, 10.0, 10.0)), "contradicts.*spacing=Z,Y,X to override"),
    ((3.0, (40.0, 10.0, 10.0), None), "contradicts.*fix spacing=Z,Y,X"),
    ((None, None, None), "no voxel size"),
    ((None, None, (10.0, 10.0, 10.0)), "already isotropic"),
    ((None, (40.0, 4.0, 8.0), None), "square pixels"),
])
def test_contradictions_are_user_errors(args, match):
  with pytest.raises(UserError, match=match):
    resolve_factor(*args)


@pytest.mark.parametrize("value", [1, 0.5, -3, float("nan"), float("inf"), 65, "x"])
def test_check_factor_rejects(value):
  with pytest.raises(UserError):
    check_factor(value)
