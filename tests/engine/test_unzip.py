"""Zip uploads: the one notebook inside is graded (flagged as a zip); unsafe archives are
refused with the member and the reason."""

from __future__ import annotations

import stat
import zipfile

import nbformat
import pytest

from graders.submission import SubmissionError, load


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
FILE = stat.S_IFREG | 0o644


def test_the_notebook_inside_a_zip_is_loaded_and_flagged(tmp_path):
    sub = load(make_zip(tmp_path / "alice.zip", [("hw/alice.ipynb", NOTEBOOK, FILE),
                                                 ("__MACOSX/._alice.ipynb", "junk", FILE)]))
    assert sub.cells == ["x = 1"] and sub.from_zip and sub.student == "alice"


@pytest.mark.parametrize("members, words", [
    ([("../x.ipynb", NOTEBOOK, FILE)], "points outside"),
    ([("/etc/x.ipynb", NOTEBOOK, FILE)], "points outside"),
    ([("link.ipynb", "/etc/passwd", stat.S_IFLNK | 0o777)], "symbolic link"),
    ([(f"f{i}.txt", "x", FILE) for i in range(201)], "201 entries"),
    ([("a.ipynb", NOTEBOOK, FILE), ("b.ipynb", NOTEBOOK, FILE)], "exactly one notebook"),
    ([("notes.txt", "hi", FILE)], "found: none"),
])
def test_unsafe_or_ambiguous_zips_are_refused(tmp_path, members, words):
    with pytest.raises(SubmissionError) as info:
        load(make_zip(tmp_path / "up.zip", members))
    assert words in str(info.value) and str(info.value).startswith(str(tmp_path / "up.zip"))


def test_a_zip_bomb_is_refused_before_it_expands(tmp_path):
    with pytest.raises(SubmissionError, match="expands .* times"):
        load(make_zip(tmp_path / "bomb.zip", [("hw.ipynb", b"0" * 50 * 2**20, FILE)]))


def test_a_corrupt_zip_is_refused(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(SubmissionError, match="not a readable zip archive"):
        load(tmp_path / "bad.zip")
