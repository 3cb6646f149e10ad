"""jax-iso models: the pretrained models that ship with jax_iso, with their model cards."""
from absl import flags

USAGE = "jax-iso models [--name=NAME]"
REQUIRED = ()
SUMMARY = "list the shipped pretrained models (their cards: data, factors, training, scores)"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("name", None, "Print this model's whole card.", flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  if fv.name:
    model = pretrained.get(fv.name)
    print((model.path / "card.md").read_text(encoding="utf-8").rstrip())
    return 0
  models = pretrained.shipped()
  if not models:
    print("no pretrained model ships with this jax_iso")
    return 0
  for name, model in models.items():
    card = model.card
    lo, hi = card.get("factors", (None, None))
    print(f"{name}: {card.get('summary', model.method)}")
    factors = f"factor x{lo:g} only" if lo == hi else f"factors x{lo:g} to x{hi:g}"
    print(f"  method {model.method}, {factors}; {card.get('steps')} steps "
          f"({card.get('hours')} h on {card.get('machine')}); {card.get('score_line', '')}".rstrip("; "))
    print(f"  use: jax-iso reconstruct --method={model.method} (the default start), jax-iso predict --model={name}; "
          f"card: jax-iso models --name={name}")
  return 0
