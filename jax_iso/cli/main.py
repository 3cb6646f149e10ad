"""The `jax-iso` command: `jax-iso SUBCOMMAND --flag=value ...`; `jax-iso help` lists the subcommands.

Thin by design: each subcommand module defines its absl flags on its own `FlagValues` and calls one job of
`jax_iso.jobs`. Bad input (a flag typo, a wrong value, a `UserError` from the library) prints one line and
exits with code 2; set JAX_ISO_DEBUG=1 to see the traceback of any error.
"""
from __future__ import annotations

import importlib
import os
import re
import sys

from absl import flags

import jax_iso
from jax_iso.errors import UserError

SUBCOMMANDS = ("simulate", "reconstruct", "restore", "denoise", "superres", "evaluate", "validate", "train", "predict",
               "export", "demo")
EXIT_USAGE = 2


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


def _error(name: str, message: str) -> None:
  message = " ".join(str(message).split())  # one line
  print(f"jax-iso {name}: error: {message}", file=sys.stderr)


def _flag_message(err: Exception) -> str:
  """A flag error's own message, without the traceback a config file's exception drags in."""
  text = str(err)
  if "Traceback" in text:
    text = text.rsplit("Error: ", 1)[-1]
  return text


def _config_files(args: list[str]) -> list[str]:
  """Resolves --config=NAME[:variant] to the packaged configs/NAME.py and checks that the file exists."""
  out = []
  for arg in args:
    if arg.startswith("--config="):
      path, _, variant = arg[len("--config="):].partition(":")
      if not os.path.exists(path):
        import configs  # pylint: disable=g-import-not-at-top
        packaged = os.path.join(os.path.dirname(configs.__file__), path if path.endswith(".py") else path + ".py")
        if not os.path.exists(packaged):
          raise UserError(f"config file {path} does not exist; pass e.g. --config=configs/unet.py")
        arg = "--config=" + packaged + (":" + variant if variant else "")
    out.append(arg)
  return out


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
  mod = _module(name)
  fv = flags.FlagValues()
  debug = os.environ.get("JAX_ISO_DEBUG") == "1"
  try:
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
    with io.ome_version(fv["ome_version"].value if "ome_version" in fv else None):
      return mod.main(fv)
  except UserError as err:
    if debug:
      raise
    _error(name, err)
    return EXIT_USAGE
  except flags.Error as err:
    if debug:
      raise
    _error(name, f"{_flag_message(err)} (see `jax-iso {name} --help`)")
    return EXIT_USAGE
  except OSError as err:  # disk full, permissions changed mid-run...: the output was not written
    if debug:
      raise
    _error(name, f"{err} (nothing was written; JAX_ISO_DEBUG=1 shows the traceback)")
    return 1
  except KeyboardInterrupt:
    _error(name, "interrupted; nothing was written")
    return 130


def run() -> None:
  """Console-script entry point."""
  sys.exit(main(sys.argv))
