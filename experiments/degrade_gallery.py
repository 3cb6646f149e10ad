"""A picture of every degradation on real EM, so anyone can judge their realism at a glance.

  python experiments/degrade_gallery.py [--quick] [--png=docs/degrade_gallery.png] [--out=FILE.json]

One row per op (clean | degraded | what the op returns or the difference), on real crops from ../shared/data:
FlyEM FIB-SEM (isotropic 10 nm) for the axial and acquisition ops, ssTEM (ISBI 2012, Drosophila L3 VNC) for the
section defects, folds and precipitates; stack ops are shown on a Y = const reslice (rows are sections). Ops
use their default ranges except that each strength is set to the top of its range (so the effect is visible)
and folds get 64 px of context. The last row shows real artifacts for comparison. Prints the drawn parameters.
"""
from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import tifffile
from absl import app, flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top

from jax_iso.degrade import config, fold, intensity, lateral, noise, pairs, precipitates, sections  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
_PNG = flags.DEFINE_string("png", str(ROOT / "docs" / "degrade_gallery.png"), "Where the picture goes.")
_OUT = flags.DEFINE_string("out", None, "Write the drawn parameters to this JSON file.")
_QUICK = flags.DEFINE_bool("quick", False, "Lower resolution picture.")


PRECIPITATE_KEY = 9  # a draw with several blobs of the sizes seen in ISBI 2012


def _read(name: str) -> np.ndarray:
  return tifffile.imread(DATA / name).astype(np.float32) / 255.0


def _top(value):
  """(hi, hi) for a range: the strongest setting of an op."""
  return (value[1], value[1])


def _scalars(aux: dict, prefix: str = "") -> dict:
  """The drawn scalars of an op's aux (nested pipeline aux flattened as op.name)."""
  out = {}
  for k, v in aux.items():
    if isinstance(v, dict):
      if bool(v.get("applied", True)):
        out.update(_scalars({n: x for n, x in v.items() if n != "applied"}, f"{prefix}{k}."))
    elif np.ndim(v) == 0 and np.isfinite(float(v)):
      out[prefix + k] = round(float(v), 4)
  return out


def rows() -> list[dict]:
  fib = _read("flyem_medulla_fibsem_10nm_iso_sample1.tif")
  isbi = _read("isbi2012_sstem_train.tif")
  vnc = _read("drosophila_l3_vnc_sstem_stack1.tif")
  lat = jnp.asarray(fib[125, :240, :240])                          # an xy plane, isotropic
  key = jax.random.key(3)
  out = []

  def add(name, clean, degraded, third, third_title, params, cmap3="magma"):
    out.append(dict(name=name, clean=np.asarray(clean), degraded=np.asarray(degraded), third=np.asarray(third),
                    third_title=third_title, params=params, cmap3=cmap3))

  y, aux = lateral.lateral_undersample(key, lat, factor=4.0)
  add("lateral_undersample x4 (sections along Y, cubic back)", lat, y, jnp.abs(y - lat), "|difference|",
      _scalars(aux))
  inp, _, aux = pairs.make_pair_fn(config.axial_pair(4.0))(jax.random.key(7), lat)
  add("axial_pair x4 (sections + acquisition + cubic)", lat, inp, jnp.abs(inp - lat),
      "|difference|", _scalars(aux))
  image_ops = [
      ("gaussian_blur", intensity.gaussian_blur, {"sigma": _top(config.ops().gaussian_blur.sigma)}),
      ("intensity_jitter", intensity.intensity_jitter,
       {"brightness": (0.05, 0.05), "contrast": (0.85, 0.85), "gamma": (1.25, 1.25)}),
      ("poisson_gaussian_noise", noise.poisson_gaussian_noise, {"dose": (20.0, 20.0), "read_sigma": (0.02, 0.02)}),
      ("scan_line_noise", noise.scan_line_noise, {"sigma": (0.03, 0.03), "gain_sigma": (0.02, 0.02)}),
  ]
  for name, op, params in image_ops:
    y, aux = op(key, lat, **params)
    add(name, lat, y, jnp.abs(y - lat), "|difference|", _scalars(aux))
  y, aux = intensity.illumination(key, lat, strength=(0.2, 0.2))
  add("illumination", lat, y, aux["field"], "field (1 + s f)", _scalars(aux), cmap3="coolwarm")

  stack = jnp.asarray(isbi[:, 128:384, 128:384])                      # 30 sections of 50 nm
  y, aux = sections.missing_sections(jax.random.key(1), stack, runs=(2, 2), run_length=(1, 3))
  mask = jnp.broadcast_to(aux["mask"][:, None], (30, 256))
  add("missing_sections (ssTEM, reslice)", stack[:, 128], y[:, 128], mask,
      "missing sections", _scalars(aux), cmap3="gray")
  fstack = jnp.asarray(fib[60:124, :, :240])
  y, aux = sections.misalignment(key, fstack, max_shift=(2.0, 2.0))
  add("misalignment (FIB-SEM stack, reslice)", fstack[:, 120], y[:, 120],
      jnp.abs(y[:, 120] - fstack[:, 120]), "|difference|", _scalars(aux))

  tile = jnp.asarray(vnc[12, 300:684, 300:684])                       # 384 px: 64 px of context a side
  y, aux = fold.fold(jax.random.key(11), tile)
  c = slice(64, 320)
  flow = jnp.hypot(aux["flow"][0], aux["flow"][1])[c, c]
  add("fold (ssTEM, 64 px context)", tile[c, c], y[c, c],
      jnp.maximum(aux["mask"][c, c] * flow.max(), flow), "unfolding flow |px| and band", _scalars(aux),
      cmap3="viridis")
  crop = jnp.asarray(isbi[10, 0:256, 0:256])
  y, aux = precipitates.precipitates(jax.random.key(PRECIPITATE_KEY), crop)
  add("precipitates (ssTEM)", crop, y, aux["mask"], "mask", _scalars(aux), cmap3="gray")

  cremi_val = _read("cremi_sstem_crop_isovem_val.tif")
  cremi_train = _read("cremi_sstem_crop_isovem_train.tif")
  out.append(dict(name="real artifacts (for comparison)", clean=isbi[20, 64:224, 300:460],
                  degraded=cremi_train[3, :, :], third=cremi_val[:, 100, :].repeat(4, axis=0),
                  titles=("precipitates: ISBI train z=20", "defocus: CREMI train z=3",
                          "patched section: CREMI val z=3"), params={}, cmap3="gray"))
  return out


def draw(items: list[dict], path: pathlib.Path, dpi: int, groups_per_row: int = 3) -> None:
  """Each op is a group of three panels (clean | degraded | third); `groups_per_row` groups side by side."""
  n_rows = -(-len(items) // groups_per_row)
  fig, axes = plt.subplots(n_rows, 3 * groups_per_row, figsize=(2.0 * 3 * groups_per_row, 2.35 * n_rows))
  for ax in axes.flat:
    ax.axis("off")
  for i, item in enumerate(items):
    row, col = divmod(i, groups_per_row)
    panels = axes[row, 3 * col:3 * col + 3]
    titles = item.get("titles") or ("clean", "degraded", item["third_title"])
    for ax, img, title, cmap in zip(panels, (item["clean"], item["degraded"], item["third"]), titles,
                                    ("gray", "gray", item["cmap3"])):
      kwargs = {"vmin": 0, "vmax": 1} if cmap == "gray" else {}
      ax.imshow(img, cmap=cmap, interpolation="nearest", aspect="auto" if img.shape[0] < 100 else "equal",
                **kwargs)
      ax.set_title(title, fontsize=6.5)
    label = panels[0].text(0.0, 1.17, item["name"], transform=panels[0].transAxes, fontsize=7.5,
                           fontweight="bold")
    label.set_in_layout(False)
  fig.tight_layout(h_pad=2.2, rect=(0, 0, 1, 0.975))
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=dpi)
  plt.close(fig)


def main(argv):
  del argv
  items = rows()
  print(f"{'op':<70} drawn parameters")
  for item in items:
    print(f"{item['name']:<70} " + ", ".join(f"{k}={v:g}" for k, v in item["params"].items()))
  draw(items, pathlib.Path(_PNG.value), 50 if _QUICK.value else 72)
  print(f"wrote {_PNG.value}")
  if _OUT.value:
    pathlib.Path(_OUT.value).write_text(json.dumps({i["name"]: i["params"] for i in items}, indent=1))


if __name__ == "__main__":
  app.run(main)
