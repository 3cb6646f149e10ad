"""Every relative link and #anchor in README.md and docs/**/*.md resolves (no network).

A link `[text](target)` (or an image `![alt](target)`) whose target is relative must name a file or folder that
exists, relative to the page; a `#anchor` (alone, or after a markdown file) must be produced by a heading of the
target page, as GitHub makes anchors: lowercase, punctuation other than '-' and '_' removed, each space a '-',
and '-1', '-2', ... appended to repeated headings. Links and headings inside code (fenced blocks, `spans`) are
not links and are ignored.
"""
from __future__ import annotations

import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")   # http:, https:, mailto:, ...


def _prose_lines(text: str) -> list[tuple[int, str]]:
  """(line number, line) outside fenced code blocks."""
  out, fence = [], None
  for number, line in enumerate(text.splitlines(), 1):
    m = _FENCE.match(line)
    if m:
      if fence is None:
        fence = m.group(1)
      elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
        fence = None
      continue
    if fence is None:
      out.append((number, line))
  return out


def github_anchor(heading: str) -> str:
  """The anchor GitHub gives a heading's text (before de-duplication)."""
  text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link in a heading counts by its text
  text = text.strip().lower()
  text = re.sub(r"[^\w\- ]", "", text)   # \w keeps letters, digits and '_'
  return text.replace(" ", "-")


def anchors(page: pathlib.Path) -> set[str]:
  """Every anchor the headings of `page` produce."""
  seen: dict[str, int] = {}
  out = set()
  for _, line in _prose_lines(page.read_text(encoding="utf-8")):
    m = _HEADING.match(line)
    if not m:
      continue
    base = github_anchor(m.group(2))
    n = seen.get(base, 0)
    seen[base] = n + 1
    out.add(base if n == 0 else f"{base}-{n}")
  return out


def links(page: pathlib.Path) -> list[tuple[int, str]]:
  """(line number, target) of every markdown link and image of `page`, outside code."""
  out = []
  for number, line in _prose_lines(page.read_text(encoding="utf-8")):
    for m in _LINK.finditer(_CODE_SPAN.sub("", line)):
      out.append((number, m.group(1)))
  return out


def test_the_pages_are_found():
  names = {p.relative_to(ROOT).as_posix() for p in PAGES}
  assert "README.md" in names and "docs/results.md" in names, names


def test_github_anchor_follows_github():
  assert github_anchor("vEMDiffuse: isotropic reconstruction by diffusion") == \
      "vemdiffuse-isotropic-reconstruction-by-diffusion"
  assert github_anchor("A2I-3DEM `cpu` variant, re-picked at an equal budget") == \
      "a2i-3dem-cpu-variant-re-picked-at-an-equal-budget"
  assert github_anchor("Trust on real data: results") == "trust-on-real-data-results"
  assert github_anchor("Steps: `--train_steps` and `--sample_steps`") == "steps---train_steps-and---sample_steps"


def test_links_skip_code_and_read_titles(tmp_path):
  page = tmp_path / "p.md"
  page.write_text("[a](x.md#h) `[b](no.md)` ![c](d.png \"title\") [e](https://example.org)\n"
                  "```\n[f](inside.md)\n# not a heading\n```\n# H\n# H\n", encoding="utf-8")
  assert links(page) == [(1, "x.md#h"), (1, "d.png"), (1, "https://example.org")]
  assert anchors(page) == {"h", "h-1"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_anchors_resolve(page: pathlib.Path):
  problems = []
  for number, target in links(page):
    if not target or _EXTERNAL.match(target) or target.startswith("//"):
      continue
    path, _, anchor = target.partition("#")
    dest = (page.parent / path).resolve() if path else page
    where = f"{page.relative_to(ROOT)}:{number}: {target}"
    if not dest.exists():
      problems.append(f"{where}: {path} does not exist")
      continue
    if anchor:
      if dest.is_dir() or dest.suffix.lower() != ".md":
        problems.append(f"{where}: an anchor into {path}, which is not a markdown page")
      elif anchor not in anchors(dest):
        problems.append(f"{where}: no heading of {os.path.relpath(dest, ROOT)} makes #{anchor}")
  assert not problems, "\n".join(problems)
