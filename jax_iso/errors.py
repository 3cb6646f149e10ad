"""Errors a user can fix.

Library code raises `UserError` for bad input (a missing file, a wrong dtype, an impossible factor...). Its
message is one line that names the problem and the fix. The `jax-iso` command prints it and exits with code 2;
any other exception is a bug and keeps its traceback.
"""


class UserError(ValueError):
  """Bad input that the user can fix; `str(err)` is one line naming the problem and the fix."""
