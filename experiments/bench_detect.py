"""Unsupervised damage detection (`jax_iso.detect.damage.detect_damage`) on real EM volumes with simulated damage.

  python experiments/bench_detect.py [--quick] [--out=results/bench_detect.json] [--volumes=isbi,cremi,vnc,flyem]

For each volume of ../shared/data and each seed, a random set of sections (about one in four, never two side by
side, never one of the volume's known real artifacts) is damaged, one kind each, in turn:
  fold           `jax_iso.degrade.fold.fold` (band half-width 5-20 px, 75-100 % darker, pulled tissue, box)
  precipitate    `jax_iso.degrade.precipitates.precipitates` (1-8 black blobs, contrast x 0.3-0.5)
  missing-blank, missing-mean, missing-duplicate, missing-interpolate
                 the fills of `jax_iso.degrade.sections.missing_sections` (0; the section's mean; the section
                 below, or above for section 0; the mean of the two neighbours, the one neighbour at an end)
  defocus        a Gaussian blur of sigma U[2, 4] px of the whole section
then `detect_damage` runs on the volume (float32 in [0, 1]). Recall per kind: a damaged section counts as found
when it is flagged with its kind (missing for every fill). False alarms: clean sections flagged with anything,
over the damaged volumes and the undamaged volume (run once). Fold and precipitate masks: the share of the
simulator's mask > 0.5 inside the detected mask (for precipitates also over its blobs of >= 100 px only). Extra
kinds: damaged sections flagged with another kind besides (or instead of) theirs.

Real artifacts (excluded from the clean count; the undamaged volumes, reported found or not): ISBI 2012 train
slices 4 and 20 and test slice 13 (staining precipitates), CREMI train slices 3, 9 and 12 (defocused), CREMI
val slice 3 (a lost section patched by the mean of its neighbours).

`--quick`: 2 seeds per volume, FlyEM's first 100 sections, ISBI test and CREMI val checked for their artifacts
only (about a minute and a half on 2 CPU cores). Full: 6 seeds, whole volumes. `--out` writes every number.
"""
from __future__ import annotations

import pathlib
import sys
import time

import jax
import numpy as np
import tifffile
from absl import app, flags
from scipy import ndimage as ndi

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import write_json  # noqa: E402  pylint: disable=g-import-not-at-top

from jax_iso.degrade.fold import fold  # noqa: E402  pylint: disable=g-import-not-at-top
from jax_iso.degrade.precipitates import precipitates  # noqa: E402  pylint: disable=g-import-not-at-top
from jax_iso.detect.damage import detect_damage  # noqa: E402  pylint: disable=g-import-not-at-top

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
_QUICK = flags.DEFINE_bool("quick", False, "2 seeds, FlyEM's first 100 sections (about a minute and a half).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_VOLUMES = flags.DEFINE_list("volumes", ["isbi", "cremi", "vnc", "flyem"], "Volumes to damage (see VOLUMES).")

VOLUMES = {
    "isbi": "isbi2012_sstem_train.tif",
    "cremi": "cremi_sstem_crop_isovem_train.tif",
    "vnc": "drosophila_l3_vnc_sstem_stack1.tif",
    "flyem": "flyem_medulla_fibsem_10nm_iso_sample1.tif",
}
CHECKED = {"isbi-test": "isbi2012_sstem_test.tif", "cremi-val": "cremi_sstem_crop_isovem_val.tif"}  # real only
# file -> {section: kind} of the damage already in the real data.
REAL = {
    "isbi2012_sstem_train.tif": {4: "precipitate", 20: "precipitate"},
    "isbi2012_sstem_test.tif": {13: "precipitate"},
    "cremi_sstem_crop_isovem_train.tif": {3: "defocus", 9: "defocus", 12: "defocus"},
    "cremi_sstem_crop_isovem_val.tif": {3: "missing"},
}
COVERAGE = ("fold", "precipitate", "precipitate>=100px")
LARGE_BLOB = 100      # px: a "large" precipitate blob, for the mask coverage
DAMAGE = ("fold", "precipitate", "missing-blank", "missing-mean", "missing-duplicate", "missing-interpolate",
          "defocus")


def pick_sections(n_z: int, exclude: set[int], rng: np.random.Generator) -> list[int]:
  """About a quarter of the sections, no two adjacent, none in `exclude`, in random order."""
  picked: list[int] = []
  for k in rng.permutation(n_z):
    k = int(k)
    if len(picked) >= max(1, n_z // 4):
      break
    if k in exclude or any(abs(k - j) <= 1 for j in picked):
      continue
    picked.append(k)
  return picked


def damage(vol: np.ndarray, seed: int, exclude: set[int]) -> tuple[np.ndarray, dict[int, str], dict[int, np.ndarray]]:
  """(damaged copy of vol [Z, Y, X] float32, {section: damage kind}, {section: simulator mask > 0.5})."""
  rng = np.random.default_rng(seed)
  out = vol.copy()
  truth, masks = {}, {}
  order = rng.permutation(len(DAMAGE))
  for i, k in enumerate(pick_sections(len(vol), exclude, rng)):
    kind = DAMAGE[int(order[i % len(DAMAGE)])]
    key = jax.random.key(seed * 1000 + k)
    x = vol[k]
    if kind == "fold":
      y, aux = fold(key, x)
      out[k], masks[k] = np.asarray(y), np.asarray(aux["mask"]) > 0.5
    elif kind == "precipitate":
      y, aux = precipitates(key, x)
      out[k], masks[k] = np.asarray(y), np.asarray(aux["mask"]) > 0.5
    elif kind == "missing-blank":
      out[k] = 0.0
    elif kind == "missing-mean":
      out[k] = x.mean()
    elif kind == "missing-duplicate":
      out[k] = vol[k - 1] if k > 0 else vol[k + 1]
    elif kind == "missing-interpolate":       # at an end: the one neighbour, as the simulator does
      out[k] = 0.5 * (vol[max(k - 1, 0)] + vol[min(k + 1, len(vol) - 1)]) if 0 < k < len(vol) - 1 else \
          vol[1 if k == 0 else k - 1]
    else:
      out[k] = ndi.gaussian_filter(x, float(rng.uniform(2.0, 4.0)))
    truth[k] = kind
  return out, truth, masks


def evaluate(vol: np.ndarray, truth: dict[int, str], sim_masks: dict[int, np.ndarray], real: dict[int, str]) -> dict:
  """detect_damage on vol, scored: hits per kind, false alarms on clean sections, extra kinds on damaged ones,
  mask coverage, real artifacts found."""
  start = time.perf_counter()
  found, masks = detect_damage(vol)
  seconds = time.perf_counter() - start
  flagged = {d.index: d for d in found}
  hits = {kind: [0, 0] for kind in DAMAGE}
  coverage: dict[str, list[float]] = {kind: [] for kind in COVERAGE}
  extra = []
  for k, kind in truth.items():
    want = kind.split("-")[0]
    hit = k in flagged and want in flagged[k].kinds
    hits[kind][0] += int(hit)
    hits[kind][1] += 1
    if k in flagged and set(flagged[k].kinds) - {want}:
      extra.append(f"{k} ({kind}): {','.join(flagged[k].kinds)}: {flagged[k].detail}")
    if hit and k in sim_masks and sim_masks[k].any():
      coverage[want].append(float((masks[k] & sim_masks[k]).sum() / sim_masks[k].sum()))
      if want == "precipitate":
        labels, n = ndi.label(sim_masks[k])
        large = np.isin(labels, 1 + np.flatnonzero(np.bincount(labels.ravel())[1:] >= LARGE_BLOB))
        if large.any():
          coverage["precipitate>=100px"].append(float((masks[k] & large).sum() / large.sum()))
  clean = [k for k in range(len(vol)) if k not in truth and k not in real]
  alarms = {k: f"{','.join(flagged[k].kinds)}: {flagged[k].detail}" for k in clean if k in flagged}
  real_found = {k: (k in flagged and kind in flagged[k].kinds) for k, kind in real.items()}
  return {"hits": hits, "coverage": coverage, "clean": len(clean), "alarms": alarms, "real": real_found,
          "extra": extra, "seconds": seconds}


def load(name: str, depth: int | None) -> np.ndarray:
  vol = tifffile.imread(DATA / name)[:depth]
  return vol.astype(np.float32) / 255.0


def main(argv):
  del argv
  unknown = [tag for tag in _VOLUMES.value if tag not in VOLUMES]
  if unknown:
    sys.exit(f"--volumes: {', '.join(unknown)} unknown; choose from {', '.join(VOLUMES)}")
  missing = [name for name in list(VOLUMES.values()) + list(CHECKED.values()) if not (DATA / name).exists()]
  if missing:
    sys.exit(f"{DATA} lacks {', '.join(missing)}: this benchmark needs ../shared/data beside the project")
  quick = _QUICK.value
  seeds = range(2) if quick else range(6)
  rows, numbers = [], {"quick": quick, "volumes": {}}
  totals = {kind: [0, 0] for kind in DAMAGE}
  total_clean, total_alarms = 0, 0
  cover_all: dict[str, list[float]] = {kind: [] for kind in COVERAGE}
  total_extra = []
  for tag in _VOLUMES.value:
    name = VOLUMES[tag]
    vol = load(name, 100 if quick and tag == "flyem" else None)
    real = REAL.get(name, {})
    runs = [evaluate(vol, {}, {}, real)]
    for seed in seeds:
      damaged, truth, sim_masks = damage(vol, seed, set(real))
      runs.append(evaluate(damaged, truth, sim_masks, real))
    hits = {kind: [sum(r["hits"][kind][i] for r in runs) for i in (0, 1)] for kind in DAMAGE}
    clean = sum(r["clean"] for r in runs)
    alarms = [a for r in runs for a in r["alarms"].items()]
    extra = [e for r in runs for e in r["extra"]]
    total_extra += extra
    cover = {kind: [c for r in runs for c in r["coverage"][kind]] for kind in cover_all}
    for kind in DAMAGE:
      totals[kind] = [totals[kind][i] + hits[kind][i] for i in (0, 1)]
    total_clean += clean
    total_alarms += len(alarms)
    for kind in cover_all:
      cover_all[kind] += cover[kind]
    rows.append((tag, hits, clean, len(alarms)))
    numbers["volumes"][tag] = {
        "file": name, "shape": list(vol.shape), "hits": hits, "clean_sections": clean,
        "false_alarms": len(alarms), "alarms": [f"{k}: {why}" for k, why in alarms], "extra_kinds": extra,
        "mask_coverage": {kind: (float(np.mean(v)) if v else None) for kind, v in cover.items()},
        "real_found": {str(k): v for k, v in runs[0]["real"].items()},
        "seconds_per_run": float(np.mean([r["seconds"] for r in runs]))}
    for k, why in alarms:
      print(f"  {tag} false alarm: section {k}: {why}")
    for e in extra:
      print(f"  {tag} extra kind on a damaged section: {e}")
  for tag, name in CHECKED.items():
    run = evaluate(load(name, None), {}, {}, REAL[name])
    numbers["volumes"][tag] = {"file": name, "real_found": {str(k): v for k, v in run["real"].items()},
                               "clean_sections": run["clean"], "false_alarms": len(run["alarms"]),
                               "alarms": [f"{k}: {why}" for k, why in run["alarms"].items()],
                               "seconds_per_run": run["seconds"]}
    total_clean += run["clean"]
    total_alarms += len(run["alarms"])
    rows.append((tag, None, run["clean"], len(run["alarms"])))
    for k, why in run["alarms"].items():
      print(f"  {tag} false alarm: section {k}: {why}")

  head = "".join(f"{kind:>11}" for kind in ("fold", "precip", "m-blank", "m-mean", "m-dup", "m-interp", "defocus"))
  print(f"{'volume':<12}{head} {'false alarms':>16}")
  for tag, hits, clean, n_alarms in rows + [("all", totals, total_clean, total_alarms)]:
    cells = "".join(f"{f'{h[0]}/{h[1]}':>11}" for h in hits.values()) if hits else " " * 77
    print(f"{tag:<12}{cells} {f'{n_alarms}/{clean}':>16}")
  found = sum(v[0] for v in totals.values())
  damaged = sum(v[1] for v in totals.values())
  print(f"recall {found}/{damaged} = {found / max(damaged, 1):.3f}; false alarms {total_alarms}/{total_clean} = "
        f"{total_alarms / max(total_clean, 1):.3f}")
  print(f"damaged sections flagged with a kind not theirs too: {len(total_extra)}/{damaged}")
  for kind, v in cover_all.items():
    if v:
      print(f"{kind} mask: mean {np.mean(v):.3f}, min {np.min(v):.3f} of the simulator's mask inside ({len(v)} "
            "sections)")
  print("real artifacts (undamaged volumes):")
  for entry in numbers["volumes"].values():
    for k, ok in entry["real_found"].items():
      print(f"  {entry['file']} section {k} ({REAL[entry['file']][int(k)]}): {'found' if ok else 'missed'}")
  print("seconds per detect_damage run: " + ", ".join(
      f"{tag} {entry['seconds_per_run']:.1f}" for tag, entry in numbers["volumes"].items()))
  numbers.update({"recall": {kind: v[0] / max(v[1], 1) for kind, v in totals.items()},
                  "recall_all": found / max(damaged, 1), "false_alarm_rate": total_alarms / max(total_clean, 1),
                  "extra_kinds": len(total_extra),
                  "mask_coverage": {kind: (float(np.mean(v)) if v else None) for kind, v in cover_all.items()}})
  write_json(_OUT.value, numbers)


if __name__ == "__main__":
  app.run(main)
