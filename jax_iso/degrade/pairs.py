"""Training-pair makers: clean crops of the user's volume in, (degraded input, clean target, aux) out.

All are pure functions of (key, x) with static keyword parameters, so a train step calls them on the device:
`jax.vmap(functools.partial(axial_pair, factor=4.0, acquisition=pipe))(keys, patches)`. `make_pair_fn(cfg)`
builds one from a config (`jax_iso.degrade.config`); `make_batch_fn(cfg)` builds the batch version a train step
calls (per-example keys; section pairs split the batch between damage kinds instead of computing every kind
for every example).

- `axial_pair` (A2I-3DEM, CARE U-Net, vEMDiffuse-a): a lateral patch [H, W] is cut into sections along axis -2
  at a random phase, the sections get the acquisition degradations (noise, scan lines, in-plane blur along X,
  intensity), and are interpolated back to [H, W] exactly as an anisotropic volume is at inference.
- `any_factor_pair` (`any_factor.py`; the pretrained models that serve every factor): the same at a factor drawn
  per example from a range, the noise of the sections matched to the patch's own; aux 'factor' is what the
  network is told.
- `clip_pair` (EMformer): a stack of frames [D, H, W] from the volume is cut into sections along Y (axis -2),
  degraded, optionally one frame zeroed (inpainting); the target is the clean stack on the fine grid.
- `section_pair` (ssTEM restoration): three consecutive sections [3, H, W]; the middle one is damaged by a fold
  (SFF), staining precipitates (SP) or is missing (MS); returns the damage mask and the unfolding flow.
- `noise_pair` (EMDiffuse-n): an image and its degraded copy.
- `noise_mixture_pair` (the blind EMDiffuse-n): an image and its copy degraded by one of several noise pipelines,
  picked per example with given probabilities (Gaussian, Poisson-Gaussian, scan-line, correlated noise).
- `lateral2d_pair` (EMDiffuse-r): an image sampled `scale` times coarser in Y and in X (the sections of the axial
  degradation along both axes, at random sub-pixel phases), degraded by `pipeline` (the coarse acquisition's
  noise), and interpolated back to its size: the condition; the image is the target.
- `between_pair` (vEMDiffuse): a stack [D, H, W] cut into sections along Y (axis -2) at a random sub-slice phase;
  the input is the planes [D, W] of two neighbouring sections and the position in [0, 1) of one fine plane
  between their centres, the target that fine plane; with `factors`, at a factor drawn per example (told to
  the network as a fourth channel, log s).
- `registered_pair` (EMDiffuse-n/-r on real pairs): a crop [2, ...] of two registered volumes
  (`data.paired.PairedVolume`) split into its first (input) and second (target) image.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from jax_iso import runconfig
from jax_iso.degrade import any_factor, axial, checks, grid
from jax_iso.degrade import fold as fold_lib
from jax_iso.degrade import precipitates as precipitates_lib
from jax_iso.degrade.pipeline import Pipeline
from jax_iso.degrade.resample import resample
from jax_iso.degrade.sections import interpolate_missing

SECTION_KINDS = ("fold", "precipitates", "missing")
MISSING_FILLS = ("blank", "mean", "duplicate")


def _acquire(pipeline: Pipeline | None, key: jax.Array, x: jax.Array) -> tuple[jax.Array, dict]:
  return (x, {}) if pipeline is None else pipeline(key, x)


def axial_pair(key: jax.Array, patch: jax.Array, *, factor: float, acquisition: Pipeline | None = None,
               profile: str | tuple[float, ...] = "box", sigma: float | None = None,
               phase: tuple[float, float] = (0.0, 1.0), method: str = "cubic",
               support: float = 1.0) -> tuple[jax.Array, jax.Array, dict]:
  """(input [..., H, W], target [..., H, W], aux): sections along axis -2, acquisition, interpolated back."""
  patch = checks.check_float(patch)
  k_sec, k_acq = jax.random.split(key)
  sec, aux = axial.axial_sections(k_sec, patch, factor=factor, axis=-2, profile=profile, sigma=sigma,
                                  phase=phase, support=support)
  sec, acq = _acquire(acquisition, k_acq, sec)
  inp = resample(axial.materialize(sec), factor, method, axis=-2, phase=aux["phase"], n_out=patch.shape[-2])
  return inp.astype(patch.dtype), patch, {**aux, "acquisition": acq}


def clip_pair(key: jax.Array, clip: jax.Array, *, factor: float, acquisition: Pipeline | None = None,
              drop_prob: float = 0.0, drop_run: int = 1, profile: str | tuple[float, ...] = "box",
              sigma: float | None = None, interpolate: bool = False, method: str = "cubic",
              support: float = 1.0) -> tuple[jax.Array, jax.Array, dict]:
  """(input, target, aux) from a stack of frames [..., D, H, W].

  Input: the frames cut into N = floor(H/s) sections along Y (phase 0; `profile`, `sigma` and `support` as in
  `axial.section_weights`: `validate` trains on sections half as thick as their spacing), degraded; with probability
  `drop_prob` a random run of 1 to `drop_run` consecutive frames is zeroed (lost sections to inpaint; aux
  'dropped' [..., D] marks them). Target: the clean frames' first round(N*s) rows (the fine grid of the
  sections). With `interpolate`, the input is resampled to the target's size (for 2D models); otherwise it stays
  [..., D, N, W] (EMformer upsamples inside the network) and aux 'baseline' is its linear resampling onto the
  target's rows, lost frames linearly interpolated from the nearest kept ones (what the held-out evaluation
  compares with).
  """
  clip = checks.check_float(clip, min_ndim=3)
  if not 0.0 <= drop_prob <= 1.0:
    raise ValueError(f"drop_prob={drop_prob} must be in [0, 1]")
  if int(drop_run) < 1:
    raise ValueError(f"drop_run={drop_run} must be >= 1")
  n_sec = grid.section_count(clip.shape[-2], factor)
  if n_sec < 2:
    raise ValueError(f"clip height {clip.shape[-2]} holds fewer than 2 sections of {factor} rows")
  n_out = grid.fine_count(n_sec, factor)
  k_acq, k_drop, k_frame = jax.random.split(key, 3)
  sec = axial.simulate_axial(clip, factor, profile=profile, sigma=sigma, axis=-2, support=support)
  sec, acq = _acquire(acquisition, k_acq, sec)
  depth = clip.shape[-3]
  k_start, k_len = jax.random.split(k_frame)
  run = jax.random.randint(k_len, (), 1, max(1, min(int(drop_run), depth)) + 1)
  start = jax.random.randint(k_start, (), 0, depth - run + 1)
  frames = jnp.arange(depth)
  drop = (jax.random.uniform(k_drop) < drop_prob) & (frames >= start) & (frames < start + run)
  sec = jnp.where(drop[:, None, None], 0.0, sec).astype(clip.dtype)
  target = clip[..., :n_out, :]
  aux = {"dropped": jnp.broadcast_to(drop, clip.shape[:-2]).astype(jnp.float32), "acquisition": acq}
  if interpolate:
    return resample(axial.materialize(sec), factor, method, axis=-2, n_out=n_out).astype(clip.dtype), target, aux
  kept = interpolate_missing(axial.materialize(sec), jnp.broadcast_to(drop, sec.shape[:-2]))  # lost frames bridged
  aux["baseline"] = resample(kept, factor, "linear", axis=-2, n_out=n_out).astype(clip.dtype)
  return sec, target, aux


def _missing(key: jax.Array, triplet: jax.Array, fills: tuple[str, ...]) -> tuple[jax.Array, jax.Array]:
  """The middle section lost: blank, flat at its mean, or a duplicate of the previous section."""
  middle = triplet[..., 1, :, :]
  options = {"blank": jnp.zeros_like(middle),
             "mean": jnp.broadcast_to(middle.mean(axis=(-2, -1), keepdims=True), middle.shape),
             "duplicate": triplet[..., 0, :, :]}
  choice = jax.random.randint(key, (), 0, len(fills))
  out = options[fills[0]]
  for i, name in enumerate(fills[1:], start=1):
    out = jnp.where(choice == i, options[name], out)
  return out, choice


def section_pair(key: jax.Array, triplet: jax.Array, *, kinds: tuple[str, ...] = SECTION_KINDS,
                 kind_probs: tuple[float, ...] | None = None, fold: Mapping | None = None,
                 precipitates: Mapping | None = None, missing_fills: tuple[str, ...] = MISSING_FILLS,
                 context: int = 0, acquisition: Pipeline | None = None, mask_input: bool = False,
                 mask_dilate: int = 0) -> tuple[jax.Array, jax.Array, dict]:
  """(input [..., 3, H, W], target [..., H, W], aux) from three consecutive sections.

  The middle section is damaged by one of `kinds` drawn with `kind_probs`: "fold" (support-film fold; aux flow
  unfolds it), "precipitates" (staining precipitates), "missing" (lost section). `fold` / `precipitates` are
  the ops' keyword parameters. All three sections then get the acquisition degradations. `context` pixels are
  cropped from every border of every output: a fold pulls tissue in from up to its width away, so crops with
  context get real tissue there instead of mirrored borders. aux: 'kind' (index into `kinds`), 'mask'
  [..., H', W'] (where the middle section is damaged; all ones when missing), 'flow' [..., 2, H', W'] (the
  fold's unfolding flow, zero otherwise), 'baseline' [..., H', W'] (the mean of the two neighbours), with
  H' = H - 2 * context. With `mask_input` the input gets a 4th channel: where the mask exceeds 0.1, dilated by
  `mask_dilate` px (a square window), 1 there and 0 elsewhere: what a detector marks at inference
  (`models/restore.py` reads it).
  """
  triplet = checks.check_float(triplet, min_ndim=3)
  if triplet.shape[-3] != 3:
    raise ValueError(f"section_pair needs 3 consecutive sections on axis -3, got shape {triplet.shape}")
  if context < 0 or 2 * context >= min(triplet.shape[-2:]):
    raise ValueError(f"context={context} must be >= 0 and leave pixels of the {triplet.shape[-2:]} crop")
  unknown = [k for k in kinds if k not in SECTION_KINDS]
  if not kinds or unknown:
    raise ValueError(f"kinds must be a non-empty subset of {SECTION_KINDS}, got {kinds}")
  probs = jnp.full((len(kinds),), 1.0 / len(kinds)) if kind_probs is None else jnp.asarray(kind_probs)
  if probs.shape != (len(kinds),):
    raise ValueError(f"kind_probs {kind_probs} must give one probability per kind {kinds}")
  k_kind, k_dmg, k_acq = jax.random.split(key, 3)
  kind = jax.random.choice(k_kind, len(kinds), p=probs / probs.sum())
  middle = triplet[..., 1, :, :]
  zeros_flow = jnp.zeros(middle.shape[:-2] + (2,) + middle.shape[-2:], middle.dtype)
  damaged, masks, flows = [], [], []
  for i, name in enumerate(kinds):
    k = jax.random.fold_in(k_dmg, i)
    if name == "fold":
      y, aux = fold_lib.fold(k, middle, **dict(fold or {}))
      damaged.append(y), masks.append(aux["mask"]), flows.append(aux["flow"])
    elif name == "precipitates":
      y, aux = precipitates_lib.precipitates(k, middle, **dict(precipitates or {}))
      damaged.append(y), masks.append(aux["mask"]), flows.append(zeros_flow)
    else:
      y, _ = _missing(k, triplet, tuple(missing_fills))
      damaged.append(y), masks.append(jnp.ones_like(middle)), flows.append(zeros_flow)
  pick = lambda items: functools.reduce(lambda acc, iv: jnp.where(kind == iv[0], iv[1], acc),  # noqa: E731
                                        enumerate(items[1:], start=1), items[0])
  inner = (Ellipsis, slice(context, triplet.shape[-2] - context), slice(context, triplet.shape[-1] - context))
  inp = jnp.stack([triplet[..., 0, :, :], pick(damaged).astype(triplet.dtype), triplet[..., 2, :, :]], axis=-3)
  inp, acq = _acquire(acquisition, k_acq, inp[inner])
  mask = pick(masks)[inner].astype(jnp.float32)
  baseline = 0.5 * (inp[..., 0, :, :] + inp[..., 2, :, :])
  if mask_input:
    inp = jnp.concatenate([inp, binary_mask(mask, mask_dilate)[..., None, :, :].astype(inp.dtype)], axis=-3)
  return inp, middle[inner], {"kind": kind, "mask": mask, "flow": pick(flows)[inner].astype(jnp.float32),
                              "acquisition": acq, "baseline": baseline}


def binary_mask(mask: jax.Array, dilate: int = 0) -> jax.Array:
  """mask [..., H, W] > 0.1, dilated by `dilate` px (max over a (2 dilate + 1)^2 window), as float32 0 / 1."""
  m = (mask > 0.1).astype(jnp.float32)
  if dilate <= 0:
    return m
  m = jax.lax.optimization_barrier(m)   # a lost section's mask is constant: no folding of the window at compile
  lead = m.shape[:-2]
  flat = m.reshape((-1,) + m.shape[-2:])
  size = 2 * int(dilate) + 1
  out = jax.lax.reduce_window(flat, 0.0, jax.lax.max, (1, size, size), (1, 1, 1), "SAME")
  return out.reshape(lead + m.shape[-2:])


def noise_pair(key: jax.Array, image: jax.Array, *, pipeline: Pipeline) -> tuple[jax.Array, jax.Array, dict]:
  """(input, target, aux): `image` [..., H, W] degraded by `pipeline` (noise for denoising), and itself."""
  image = checks.check_float(image)
  inp, aux = pipeline(key, image)
  return inp, image, aux


def noise_mixture_pair(key: jax.Array, image: jax.Array, *, components: Mapping[str, Pipeline],
                       kinds: tuple[str, ...], kind_probs: tuple[float, ...]) -> tuple[jax.Array, jax.Array, dict]:
  """(input, target, aux): `image` [..., H, W] degraded by one pipeline of `components`, the one named
  kinds[k] with k drawn with probabilities `kind_probs` (normalised), and itself. The pick and the noise are
  functions of `key` alone. aux: 'kind', the index k into `kinds`."""
  image = checks.check_float(image)
  missing = [k for k in kinds if k not in components]
  if not kinds or missing:
    raise ValueError(f"noise_mixture_pair: kinds {tuple(kinds)} must name pipelines of components "
                     f"({', '.join(components)}); missing: {', '.join(missing) or 'no kinds given'}")
  probs = tuple(float(p) for p in kind_probs)
  if len(probs) != len(kinds) or min(probs) < 0 or sum(probs) <= 0:
    raise ValueError(f"kind_probs {tuple(kind_probs)} must give one non-negative probability per kind {tuple(kinds)}")
  k_pick, k_noise = jax.random.split(key)
  kind = jax.random.choice(k_pick, len(kinds), p=jnp.asarray(probs, jnp.float32) / sum(probs))
  branches = [functools.partial(lambda pipe, x: pipe(k_noise, x)[0], components[name]) for name in kinds]
  inp = jax.lax.switch(kind, branches, image)
  return inp, image, {"kind": kind.astype(jnp.int32)}


def lateral2d_pair(key: jax.Array, image: jax.Array, *, scale: int = 2, pipeline: Pipeline | None = None,
                   profile: str | tuple[float, ...] = "box", sigma: float | None = None, method: str = "cubic",
                   phase: tuple[float, float] = (0.0, 1.0)) -> tuple[jax.Array, jax.Array, dict]:
  """(input [..., H, W], target [..., H, W], aux): `image` integrated into pixels `scale` times larger along Y
  then X, degraded by `pipeline`, and interpolated back onto its own grid (aux: the phases in fine pixels)."""
  image = checks.check_float(image)
  k_y, k_x, k_acq = jax.random.split(key, 3)
  low, aux_y = axial.axial_sections(k_y, image, factor=float(scale), axis=-2, profile=profile, sigma=sigma,
                                    phase=phase)
  low, aux_x = axial.axial_sections(k_x, low, factor=float(scale), axis=-1, profile=profile, sigma=sigma,
                                    phase=phase)
  low, acq = _acquire(pipeline, k_acq, low)
  up = resample(axial.materialize(low), float(scale), method, axis=-2, phase=aux_y["phase"], n_out=image.shape[-2])
  up = resample(up, float(scale), method, axis=-1, phase=aux_x["phase"], n_out=image.shape[-1])
  return up.astype(image.dtype), image, {"phase_y": aux_y["phase"], "phase_x": aux_x["phase"], "acquisition": acq}


def between_span(factor: float) -> int:
  """Fine slices a `between_pair` stack needs along Y: two sections at any phase in [0, 1): ceil(2 s + 1)."""
  return int(math.ceil(2.0 * float(factor) + 1.0 - 1e-9))


def between_pair(key: jax.Array, clip: jax.Array, *, factor: float = 4.0,
                 factors: tuple[float, float] | None = None, acquisition: Pipeline | None = None,
                 profile: str | tuple[float, ...] = "box", sigma: float | None = None, support: float = 1.0,
                 match_noise: bool = False) -> tuple[jax.Array, jax.Array, dict]:
  """(input [..., D, W, C], target [..., D, W], aux) from a stack [..., D, H, W] with H >= `between_span`.

  Axis -2 (H) is cut into sections of `factor` slices (`profile`, `sigma`, `support` as in
  `axial.section_weights`) at a phase drawn in [0, 1) fine slices, so every real position occurs; the first two
  sections get the acquisition degradations. A fine slice j is drawn among those whose centre lies in
  [c0, c0 + s), c0 being the first section's centre (`grid.section_centre`); its position is p = (j - c0) / s.
  Input channels: the first section, the second, and p everywhere (the network reads it,
  `models.diffusion_unet`); target: fine slice j. aux: 'position' p, 'phase' (fine slices), 'baseline' the
  linear interpolation (1 - p) * first + p * second (the held-out evaluation's comparison), 'acquisition'.

  `factors=(lo, hi)` (one model for every factor): s is drawn per example, log-uniform in [lo, hi]
  (`any_factor.draw_factor`), and the two box sections are cut by a matrix built from the traced s
  (`any_factor.cut_matrix`; box profile only); H >= between_span(hi). The input gets a fourth channel, log s
  everywhere (`model.factor_input` reads it), and aux 'factor' s. `match_noise` adds white noise restoring the
  stack's own noise level to the sections (`any_factor.noise_sigma` x sqrt(1 - 1/s)); aux 'added_sigma'.
  """
  clip = checks.check_float(clip, min_ndim=2)
  hi = float(factor) if factors is None else checks.check_range("factors", factors, low=1.0)[1]
  if clip.shape[-2] < between_span(hi):
    raise ValueError(f"between_pair at factor {hi:g} needs at least {between_span(hi)} slices along axis -2, got "
                     f"shape {clip.shape}")
  if factors is None:
    s = float(factor)
    k_sec, k_pick, k_acq = jax.random.split(key, 3)
    sec, aux = axial.axial_sections(k_sec, clip, factor=s, axis=-2, profile=profile, sigma=sigma,
                                    phase=(0.0, 1.0 / s), support=support)
    sec, acq = _acquire(acquisition, k_acq, axial.materialize(sec)[..., :2, :])
    aux = {"phase": aux["phase"]}
    extra = []
  else:
    if profile != "box" or float(support) != 1.0:
      raise ValueError(f"a factor drawn per example (factors={tuple(factors)}) cuts box sections: profile='box' "
                       f"and support=1, got profile={profile!r}, support={support}")
    k_factor, k_phase, k_pick, k_acq = jax.random.split(key, 4)
    s = any_factor.draw_factor(k_factor, tuple(float(f) for f in factors))
    phase = jax.random.uniform(k_phase)
    cut = any_factor.cut_matrix(clip.shape[-2], 2, s, phase)                 # [2, H]: the two box sections
    sec, acq = _acquire(acquisition, k_acq, jnp.einsum("kh,...hw->...kw", cut, clip))
    aux = {"phase": phase, "factor": s}
    extra = [jnp.log(s)]
  if match_noise:
    added = any_factor.noise_sigma(clip) * jnp.sqrt(jnp.maximum(0.0, 1.0 - 1.0 / s))
    sec = sec + added * jax.random.normal(jax.random.fold_in(key, 4), sec.shape, sec.dtype)
    aux["added_sigma"] = added
  centre = grid.section_centre(0, s, aux["phase"])
  first = jnp.ceil(centre - 1e-6)
  count = jnp.ceil(centre + s - 1e-6) - first                    # fine slices with centre in [c0, c0 + s)
  j = (first + jnp.floor(jax.random.uniform(k_pick) * count)).astype(jnp.int32)
  j = jnp.minimum(j, clip.shape[-2] - 1)
  position = (j - centre) / s
  below, above = sec[..., 0, :], sec[..., 1, :]
  target = jnp.take(clip, j, axis=-2)
  constant = lambda v: jnp.broadcast_to(v, below.shape).astype(clip.dtype)  # noqa: E731
  inp = jnp.stack([below, above, constant(position)] + [constant(v) for v in extra], axis=-1)
  baseline = (1.0 - position) * below + position * above
  return inp.astype(clip.dtype), target, {**aux, "position": position, "baseline": baseline.astype(clip.dtype),
                                          "acquisition": acq}


def factor_range(pairs_cfg: Mapping) -> tuple[float, float] | None:
  """(lo, hi) of a pair config whose maker draws the factor per example (`any_factor`, or `between` with
  `factors`: the model serves that range), else None (one factor, `pairs.factor`)."""
  kind = pairs_cfg.get("kind")
  factors = pairs_cfg.get("factors") if kind in ("any_factor", "between") else None
  return None if factors is None else (float(factors[0]), float(factors[1]))


def registered_pair(key: jax.Array, pair: jax.Array) -> tuple[jax.Array, jax.Array, dict]:
  """(input, target, aux): the two images of a registered pair crop [2, ...] (no degradation: both are real)."""
  del key
  pair = checks.check_float(pair, min_ndim=3)
  if pair.shape[0] != 2:
    raise ValueError(f"a registered pair crop is [2, ...] (input, target), got {pair.shape}")
  return pair[0], pair[1], {}


PAIR_MAKERS: dict[str, Callable] = {"axial": axial_pair, "any_factor": any_factor.any_factor_pair,
                                    "clip": clip_pair, "section": section_pair,
                                    "noise": noise_pair, "noise_mixture": noise_mixture_pair,
                                    "lateral2d": lateral2d_pair,
                                    "between": between_pair, "registered": registered_pair}


def make_pair_fn(cfg: Mapping) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, dict]]:
  """A pair maker `(key, x) -> (input, target, aux)` from a config (`jax_iso.degrade.config`): `cfg.kind` names
  the maker, `cfg.acquisition` (or `cfg.pipeline` for "noise") is a pipeline config, `cfg.components` (for
  "noise_mixture") a pipeline config by name, the rest are its keyword parameters."""
  params = runconfig.to_dict(cfg)                                      # any config form -> nested dicts
  kind = params.pop("kind", None)
  if kind not in PAIR_MAKERS:
    raise ValueError(f"pair kind {kind!r} is unknown; choose one of {', '.join(PAIR_MAKERS)}")
  for name in ("acquisition", "pipeline"):
    if isinstance(params.get(name), Mapping):
      params[name] = Pipeline.from_config(params[name])
  if isinstance(params.get("components"), Mapping):
    params["components"] = {n: Pipeline.from_config(c) for n, c in params["components"].items()}
  for name in ("kinds", "kind_probs"):
    if isinstance(params.get(name), list):
      params[name] = tuple(params[name])
  return functools.partial(PAIR_MAKERS[kind], **params)


def _split_counts(n: int, probs: tuple[float, ...]) -> list[int]:
  """Largest-remainder split of n examples in proportion to probs (static)."""
  total = sum(probs)
  raw = [n * p / total for p in probs]
  counts = [int(r) for r in raw]
  for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[:n - sum(counts)]:
    counts[i] += 1
  return counts


def section_pairs(key: jax.Array, triplets: jax.Array, *, kinds: tuple[str, ...] = SECTION_KINDS,
                  kind_probs: tuple[float, ...] | None = None, **params) -> tuple[jax.Array, jax.Array, dict]:
  """`section_pair` over a batch [B, 3, H, W], each kind applied only to its share of the batch.

  A random permutation assigns round(B * p_k) examples to kind k (largest remainder), so the damage ops run
  once per example (a vmapped `section_pair` computes every kind for every example and selects). Outputs are
  in the order of `triplets`; aux['kind'] says which damage each example got.
  """
  triplets = checks.check_float(triplets, min_ndim=4)
  probs = tuple(1.0 / len(kinds) for _ in kinds) if kind_probs is None else tuple(kind_probs)
  if len(probs) != len(kinds) or min(probs) < 0 or sum(probs) <= 0:
    raise ValueError(f"kind_probs {kind_probs} must give one non-negative probability per kind {kinds}")
  k_perm, k_pairs = jax.random.split(key)
  batch = triplets.shape[0]
  order = jax.random.permutation(k_perm, batch)
  keys = jax.random.split(k_pairs, batch)
  parts, start = [], 0
  for i, (name, count) in enumerate(zip(kinds, _split_counts(batch, probs))):
    if count == 0:
      continue
    idx = order[start:start + count]
    start += count
    make = functools.partial(section_pair, kinds=(name,), **params)
    inp, target, aux = jax.vmap(make)(keys[idx], triplets[idx])
    aux = {**aux, "kind": jnp.full((count,), kinds.index(name), jnp.int32)}
    parts.append((inp, target, aux))
  inverse = jnp.argsort(order)
  joined = jax.tree.map(lambda *leaves: jnp.concatenate(leaves)[inverse], *parts)
  return joined


def make_batch_fn(cfg: Mapping) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, dict]]:
  """The batch version of `make_pair_fn(cfg)`: `(key, x [B, ...]) -> (inputs, targets, aux)`."""
  maker = make_pair_fn(cfg)                       # validates and converts the parameters
  if maker.func is section_pair:
    return functools.partial(section_pairs, **maker.keywords)
  return lambda key, xs: jax.vmap(maker)(jax.random.split(key, xs.shape[0]), xs)
