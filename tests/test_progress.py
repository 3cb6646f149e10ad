"""Plain progress lines when stderr is not a terminal (pytest's capsys makes it a non-TTY)."""
from __future__ import annotations

import re

import pytest

from jax_iso import progress

LINE = re.compile(r"^(?P<desc>[^:]+): (?P<n>\d+)(/(?P<total>\d+) \((?P<pct>\d+)%\))?(?P<rest>.*)$")


@pytest.fixture(autouse=True)
def clock(monkeypatch):
  """A fake clock, advanced by hand: `clock.t += 1.0`."""
  class Clock:
    t = 0.0
  monkeypatch.setenv("JAX_ISO_PROGRESS", "1")
  monkeypatch.setattr(progress, "_now", lambda: Clock.t)
  return Clock


def lines(capsys) -> list[re.Match]:
  out = capsys.readouterr()
  assert out.out == ""
  return [LINE.match(line) for line in out.err.splitlines()]


def run_bar(clock, total, seconds_per_step, completed=0, **fields):
  with progress.Bar("train", total, completed=completed) as bar:
    for _ in range(completed, total):
      clock.t += seconds_per_step
      bar.update(1, **fields)


def test_one_line_per_ten_percent_with_fields(clock, capsys):
  run_bar(clock, 100, 0.5, loss=0.031214, **{"steps/s": 2.0})
  found = lines(capsys)
  assert [int(m["n"]) for m in found] == list(range(10, 101, 10))
  for m in found:
    assert m["desc"] == "train" and m["total"] == "100" and int(m["pct"]) == int(m["n"])
    assert "  loss 0.03121  steps/s 2  elapsed 0:00:" in m["rest"]
  assert found[1]["rest"].endswith("elapsed 0:00:10  eta 0:00:40")  # 20 steps in 10 s, 80 left
  assert found[-1]["rest"].endswith("eta 0:00:00")


def test_time_rule_prints_every_step_when_slow(clock, capsys):
  with progress.Bar("train", 1000) as bar:
    for _ in range(5):
      clock.t += 31.0
      bar.update(1)
  found = lines(capsys)
  assert [int(m["n"]) for m in found] == [1, 2, 3, 4, 5]
  assert found[0]["rest"] == "  elapsed 0:00:31  eta 8:36:09"  # 999 steps at 31 s


def test_fast_steps_print_only_at_marks(clock, capsys):
  run_bar(clock, 1000, 0.25)  # 25 s per 10 %: the time rule never fires
  assert [int(m["n"]) for m in lines(capsys)] == list(range(100, 1001, 100))


def test_resumed_run_counts_from_completed(clock, capsys):
  run_bar(clock, 1000, 0.125, completed=500)
  found = lines(capsys)
  assert [int(m["n"]) for m in found] == list(range(600, 1001, 100))
  # 100 steps in 12.5 s by this process: 400 left take 50 s (not 400 * 12.5 / 600)
  assert found[0]["rest"] == "  elapsed 0:00:12  eta 0:00:50"


def test_marks_within_five_seconds_of_the_last_line_are_skipped(clock, capsys):
  run_bar(clock, 100, 0.125)    # a mark every 1.25 s: a line every 5 s, and the final one
  assert [int(m["n"]) for m in lines(capsys)] == [40, 80, 100]
  run_bar(clock, 100, 0.0)      # instant work: the final line only
  assert [int(m["n"]) for m in lines(capsys)] == [100]


def test_track_prints_lines_and_yields_items(clock, capsys):
  items = [f"slab{i}" for i in range(20)]

  def slow():
    for item in items:
      clock.t += 2.5
      yield item
  assert list(progress.track(slow(), "slabs", total=20)) == items
  found = lines(capsys)
  assert [int(m["n"]) for m in found] == list(range(2, 21, 2))
  assert all(m["desc"] == "slabs" and m["total"] == "20" for m in found)


def test_track_unknown_total_prints_on_time_and_at_end(clock, capsys):
  def items():
    for i in range(10):
      clock.t += 10.0
      yield i
  assert list(progress.track(items(), "blocks")) == list(range(10))
  found = lines(capsys)
  assert [(int(m["n"]), m["total"]) for m in found] == [(3, None), (6, None), (9, None), (10, None)]
  assert found[-1]["rest"] == "  elapsed 0:01:40"


def test_disabled_prints_nothing(clock, capsys, monkeypatch):
  monkeypatch.setenv("JAX_ISO_PROGRESS", "0")
  run_bar(clock, 100, 31.0, loss=1.0)
  assert list(progress.track(range(5), "x")) == list(range(5))
  assert capsys.readouterr().err == ""


def test_empty_total_and_early_exit(clock, capsys):
  with progress.Bar("nothing", 0) as bar:
    bar.update(0)
  with pytest.raises(RuntimeError):
    with progress.Bar("train", 100) as bar:
      bar.update(3, loss=0.5)
      raise RuntimeError("diverged")
  for _ in progress.track([1, 2, 3], "broken"):
    break
  found = lines(capsys)
  assert [(m["desc"], int(m["n"])) for m in found] == [("train", 3)]
  assert found[0]["rest"].startswith("  loss 0.5  elapsed 0:00:00")
