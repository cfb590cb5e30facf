"""The digest that decides whether a build in the cache is still the sources' build."""

from __future__ import annotations

from orion.cachedir import sources_digest


def test_the_digest_follows_names_sizes_and_contents(tmp_path):
    a, b = tmp_path / "a.c", tmp_path / "b.c"
    a.write_text("int f(void);\nint g(void);\n")
    b.write_text("int h(void);\n")
    first = sources_digest(tmp_path, [a, b])
    assert sources_digest(tmp_path, [a, b]) == first  # nothing changed: the build is reused

    # A line moved from one file to the next: the bytes end to end are the same.
    a.write_text("int f(void);\n")
    b.write_text("int g(void);\nint h(void);\n")
    moved = sources_digest(tmp_path, [a, b])
    assert moved != first

    b.write_text("int g(void);\nint k(void);\n")  # same size, other content
    changed = sources_digest(tmp_path, [a, b])
    assert changed != moved

    renamed = a.rename(tmp_path / "c.c")
    assert sources_digest(tmp_path, [renamed, b]) != changed
