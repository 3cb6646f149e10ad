"""The `jax-iso` command: `jax-iso SUBCOMMAND --flag=value ...`; `jax-iso help` lists the subcommands.

Thin by design: each subcommand module defines its absl flags on its own `FlagValues` and calls one job of
`jax_iso.jobs`. This is the one error boundary of the command; whatever goes wrong ends in one line on stderr:
- bad input (a flag typo, a wrong value, a `UserError` from the library: also damaged files, which the readers
  name) exits with code 2;
- an operating-system error (disk full, permissions changed mid-run) exits with code 1;
- SIGINT (Ctrl-C) and SIGTERM (SLURM, `timeout`, `kill`) unwind the job, which removes partial outputs and
  temporary fit folders and keeps what a rerun resumes from; exit codes 130 and 143;
- anything else is a bug: one line naming the exception, exit code 1.
Set JAX_ISO_DEBUG=1 to see the traceback of any error. Third-party loggers (absl: orbax, jax) are kept to errors.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import signal
import sys
import warnings

from absl import flags
from absl import logging as absl_logging

import jax_iso
from jax_iso.errors import Terminated, UserError, on_signals

SUBCOMMANDS = ("simulate", "reconstruct", "restore", "denoise", "superres", "evaluate", "validate", "train", "predict",
               "export", "models", "demo")
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_SIGNAL = 128   # + the signal's number: 130 for SIGINT, 143 for SIGTERM (what shells report)


def _module(name: str):
  return importlib.import_module(f"jax_iso.cli.{name}")


def usage() -> str:
  lines = [f"jax-iso {jax_iso.__version__}: isotropic reconstruction of volume EM", "",
           "usage: jax-iso SUBCOMMAND [--flag=value ...]", "", "subcommands:"]
  for name in SUBCOMMANDS:
    lines.append(f"  {name:<12} {_module(name).SUMMARY}")
  lines += ["  help         this message; `jax-iso help SUBCOMMAND` = `jax-iso SUBCOMMAND --help`", "",
            "Run `jax-iso SUBCOMMAND --help` for its flags."]
  return "\n".join(lines)


def subcommand_help(name: str, fv: flags.FlagValues) -> str:
  mod = _module(name)
  lines = [f"usage: {mod.USAGE}", "", (mod.__doc__ or "").strip(), "", "flags:"]
  for flag in sorted({id(f): f for f in fv._flags().values()}.values(), key=lambda f: f.name):
    default = "" if flag.default is None else f" (default: {flag.default_as_str})"
    required = " (required)" if flag.name in mod.REQUIRED else ""
    lines.append(f"  --{flag.name}: {flag.help}{default}{required}")
  return "\n".join(lines)


def _configure_jax() -> None:
  """Persistent XLA compilation cache, so repeated runs skip compiles."""
  import jax  # pylint: disable=g-import-not-at-top
  if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "jax_iso", "xla")
    jax.config.update("jax_compilation_cache_dir", cache)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _one_line(err: BaseException) -> str:
  """An exception's message and its notes (e.g. where resumable work was kept) as one line."""
  parts = [str(err)] + [str(n) for n in getattr(err, "__notes__", ())]
  return "; ".join(" ".join(p.split()) for p in parts if p.strip())


def _error(name: str, message: str) -> None:
  message = " ".join(str(message).split())  # one line
  print(f"jax-iso {name}: error: {message}", file=sys.stderr)


def _drop_closed_loop_noise(unraisable) -> None:
  """sys.unraisablehook: orbax's reads that were still in flight when a damaged checkpoint failed call back
  into its closed asyncio loop ("Event loop is closed") after the error was reported, and a signal's stop raised
  where Python cannot propagate it (a gc callback) is raised again later (`errors.raise_pending_stop`); those are
  dropped, any other unraisable exception is printed as Python does."""
  value = unraisable.exc_value
  if isinstance(value, (KeyboardInterrupt, Terminated)) or (
      isinstance(value, RuntimeError) and "Event loop is closed" in str(value)):
    return
  sys.__unraisablehook__(unraisable)


@contextlib.contextmanager
def _quiet_libraries(debug: bool):
  """Third-party log lines (absl warnings of orbax and jax) kept to errors, unless JAX_ISO_DEBUG=1."""
  if debug:
    yield
    return
  verbosity, hook = absl_logging.get_verbosity(), sys.unraisablehook
  absl_logging.set_verbosity(absl_logging.ERROR)
  # orbax reads left in flight by a failed restore end as asyncio tasks whose exception nobody retrieves; asyncio
  # logs each with its traceback when the task is collected, which may be at exit, after this block: silenced
  # for the rest of the process (the error was reported in one line)
  logging.getLogger("asyncio").setLevel(logging.CRITICAL)
  sys.unraisablehook = _drop_closed_loop_noise
  previous = logging.getLogger("absl").level
  logging.getLogger("absl").setLevel(logging.ERROR)
  try:
    yield
  finally:
    absl_logging.set_verbosity(verbosity)
    logging.getLogger("absl").setLevel(previous)
    sys.unraisablehook = hook


_CONFIG_FIELD = re.compile(r"(?<![\w.\-])((?:data|model|pairs|optim|train|infer|mesh|diffusion|pdl)\.[\w.]+|seed|loss|"
                           r"section_noise|method)=")


def as_flags(message: str, fv: flags.FlagValues, name: str) -> str:
  """The library's message in the command line's words: a setting written `name=value` becomes the flag
  `--name=value` where the subcommand has that flag, and for `train` a config field `data.crop=64` becomes
  `--config.data.crop=64`."""
  known = sorted({f.name for f in fv._flags().values()}, key=len, reverse=True)   # pylint: disable=protected-access
  if known:
    message = re.sub(r"(?<![\w.\-])(" + "|".join(map(re.escape, known)) + r")=", r"--\1=", message)
  if name == "train":
    message = _CONFIG_FIELD.sub(r"--config.\1=", message)
  return message


def _flag_message(err: Exception) -> str:
  """A flag error's own message, without the traceback a config file's exception drags in."""
  text = str(err)
  if "Traceback" in text:
    text = text.rsplit("Error: ", 1)[-1]
  return text


def _config_files(args: list[str]) -> list[str]:
  """Resolves --config=NAME[:variant] (a file, or a config shipped in the package: unet, configs/unet.py) and
  checks that it is a Python config file: ml_collections runs it as Python (`get_config()`)."""
  out = []
  for arg in args:
    if arg.startswith("--config="):
      path, _, variant = arg[len("--config="):].partition(":")
      arg = "--config=" + _config_file(path) + (":" + variant if variant else "")
    out.append(arg)
  return out


def _config_file(path: str) -> str:
  example = "pass e.g. --config=configs/unet.py (the packaged configs: " + ", ".join(_packaged_configs()) + ")"
  if not os.path.exists(path):
    import configs  # pylint: disable=g-import-not-at-top
    name = path[len("configs/"):] if path.startswith("configs/") else path
    packaged = os.path.join(os.path.dirname(configs.__file__), name if name.endswith(".py") else name + ".py")
    if not os.path.isfile(packaged):
      raise UserError(f"config file {path} does not exist; {example}")
    return packaged
  if not path.endswith(".py") or not os.path.isfile(path):
    raise UserError(f"--config={path} is not a Python config file (a .py file with get_config()); {example}")
  with open(path, "rb") as f:
    head = f.read(4096)
  if b"\0" in head:
    raise UserError(f"--config={path} is a binary file, not a Python config file; {example}")
  return path


def _packaged_configs() -> list[str]:
  import configs  # pylint: disable=g-import-not-at-top
  folder = os.path.dirname(configs.__file__)
  return sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith(("_", "common")))


def _unknown_field(err: Exception, args: list[str]) -> str:
  """The one-line message for a --config.FIELD that the config does not have."""
  text = str(err)
  overrides = [a.split("=")[0] for a in args if a.startswith("--config.")]
  guess = re.search(r'Did you mean "(\w+)" instead of "(\w+)"', text)
  if guess:
    flag = next((f for f in overrides if guess.group(2) in f.split(".")), overrides[0] if overrides else "--config")
    return f"{flag}: the config has no field '{guess.group(2)}'; did you mean '{guess.group(1)}'?"
  return f"{' '.join(overrides) or '--config'}: not a field of the config ({' '.join(text.split())})"


def main(argv: list[str]) -> int:
  """Runs `jax-iso argv[1:]`; returns the exit code."""
  args = argv[1:]
  if not args or args[0] in ("help", "-h", "--help"):
    if len(args) >= 2 and args[0] == "help":
      return main([argv[0], args[1], "--help"])
    print(usage())
    return 0 if args else EXIT_USAGE
  if args[0] in ("--version", "version"):
    print(f"jax-iso {jax_iso.__version__}")
    return 0
  name = args[0]
  if name not in SUBCOMMANDS:
    _error(name, f"unknown subcommand '{name}'; choose one of {', '.join(SUBCOMMANDS)} (see `jax-iso help`)")
    return EXIT_USAGE
  debug = os.environ.get("JAX_ISO_DEBUG") == "1"
  fv = flags.FlagValues()
  try:
    with on_signals(), _quiet_libraries(debug):
      return _run(name, args, fv)
  except UserError as err:
    if debug:
      raise
    _error(name, as_flags(_one_line(err), fv, name))
    return EXIT_USAGE
  except flags.Error as err:
    if debug:
      raise
    _error(name, f"{_flag_message(err)} (see `jax-iso {name} --help`)")
    return EXIT_USAGE
  except OSError as err:  # disk full, permissions changed mid-run...: the output was not written
    if debug:
      raise
    _error(name, f"{_one_line(err)} (the output was not written; JAX_ISO_DEBUG=1 shows the traceback)")
    return EXIT_FAILED
  except (KeyboardInterrupt, Terminated) as err:
    signum = err.signum if isinstance(err, Terminated) else int(signal.SIGINT)
    _error(name, f"stopped by {signal.Signals(signum).name}; unfinished outputs and temporary files were removed"
           + "".join(f"; {' '.join(str(n).split())}" for n in getattr(err, "__notes__", ())))
    return EXIT_SIGNAL + signum
  except Exception as err:  # pylint: disable=broad-except  # a bug: one line, the traceback on request
    if debug:
      raise
    _error(name, f"unexpected {type(err).__name__}: {_one_line(err)[:300]} (a bug or an input jax_iso does not "
           "handle; rerun with JAX_ISO_DEBUG=1 for the traceback and report it)")
    return EXIT_FAILED


def _run(name: str, args: list[str], fv: flags.FlagValues) -> int:
  """Parses the subcommand's flags (into `fv`) and runs it."""
  mod = _module(name)
  for arg in args[1:]:
    if arg.split("=")[0] in ("--steps", "-steps"):
      raise UserError("--steps is not a flag (it meant two things): --train_steps=N sets a learned method's "
                      "training steps, --sample_steps=N a diffusion method's sampler steps")
  argv_flags = [f"jax-iso {name}"] + _config_files(args[1:])
  # A config-file flag registers its --config.FIELD overrides from the argv it is given (not sys.argv).
  mod.define_flags(fv, **({"argv": argv_flags} if getattr(mod, "NEEDS_ARGV", False) else {}))
  if any(a in ("-h", "--help", "--helpfull", "-help") for a in args[1:]):
    print(subcommand_help(name, fv))
    return 0
  try:
    rest = fv(argv_flags)
  except (AttributeError, KeyError) as err:   # ml_collections: --config.FIELD that does not exist
    raise UserError(_unknown_field(err, argv_flags)) from None
  if len(rest) > 1:
    raise UserError(f"unexpected argument(s) {' '.join(rest[1:])}; flags are written --name=value")
  missing = [f"--{n}" for n in mod.REQUIRED if fv[n].value is None]
  if missing:
    raise UserError(f"missing {' and '.join(missing)}; usage: {mod.USAGE}")
  _configure_jax()
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  with io.ome_version(_value(fv, "ome_version")), io.missing_chunks(_value(fv, "missing_chunks")):
    return mod.main(fv)


def _value(fv: flags.FlagValues, name: str):
  """A flag's value, or None when the subcommand has no such flag."""
  return fv[name].value if name in fv else None


def run() -> None:
  """Console-script entry point. Unless JAX_ISO_DEBUG=1, what libraries print after the command's last line (orbax
  callbacks after a damaged checkpoint failed, a jax warning when a signal cut its start-up short) stays silent
  until the process ends."""
  if os.environ.get("JAX_ISO_DEBUG") != "1":
    sys.unraisablehook = _drop_closed_loop_noise
    warnings.simplefilter("ignore")
  sys.exit(main(sys.argv))
