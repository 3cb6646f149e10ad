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
    print(f"{name}: {card.get('summary', model.method)}")
    print(f"  method {model.method}, {pretrained.serves(card)}; {card.get('steps')} steps "
          f"({card.get('hours')} h on {card.get('machine')}); {card.get('score_line', '')}".rstrip("; "))
    print(f"  use: {_use(name, model.method)}; card: jax-iso models --name={name}")
  return 0


def _use(name: str, method: str) -> str:
  """The commands that use the shipped model `name` of `method`."""
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  task = methods.get(method).task
  if task == "isotropic":
    return f"jax-iso reconstruct --method={method} (the default start), jax-iso predict --model={name}"
  if task == "restore":
    return (f"jax-iso restore --input=IN --output=OUT (the default start, fine-tuned on the input's clean sections), "
            f"--init={name}")
  return (f"jax-iso {methods.COMMANDS[task]} --input=IN --output=OUT (the default when no training data is given), "
          f"--init={name}")
