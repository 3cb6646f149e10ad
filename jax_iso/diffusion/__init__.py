"""Diffusion in three pieces (vdm style): `schedules` (pure functions of time), `losses` (per-example terms),
`samplers` (one pure step each and a `lax.fori_loop` driver); `uncertainty` summarises repeated samples."""
