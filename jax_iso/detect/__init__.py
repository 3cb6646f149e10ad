"""Damaged and lost sections of a volume, found without labels (numpy + scipy.ndimage), for inpainting and restoration.

    missing = find_missing(src, "auto")                 # the sections inpaint=auto fills (EMformer's inpainting)
    found, masks = detect_damage(src, kinds="auto")     # ssTEM damage and its regions (restoration)

- `sections`: what one section shows (with at most its two neighbours): reading, the maps, correlation, sharpness,
  a fold's band, dark blobs, and the shared constants (`BLANK_FRACTION`).
- `lost`: the lost sections to inpaint: blank or unlike both neighbours (`detect_bad_sections`), or the indices a
  user gives (`parse_inpaint`, `find_missing`).
- `damage`: missing, folded, precipitate-covered and defocused sections with their masks (`detect_damage`).
"""
from jax_iso.detect.damage import KINDS, SectionDamage, detect_damage, parse_kinds
from jax_iso.detect.lost import BadSection, check_missing, detect_bad_sections, find_missing, parse_inpaint
