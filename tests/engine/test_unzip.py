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


def patched_zip(path, patch):
    """A stored zip of one notebook named hw_X.ipynb, its bytes then changed by `patch`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("hw_X.ipynb", NOTEBOOK)
    data = bytearray(path.read_bytes())
    patch(data)
    path.write_bytes(bytes(data))
    return path


def flip_a_data_byte(data):
    data[data.find(b'"cells"') + 1] ^= 0x20


def encrypted(data):
    data[6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1


def name_flagged_utf8_but_not(data):
    data[:] = data.replace(b"hw_X", b"hw\xff\xfe")
    data[7] |= 0x08
    data[data.find(b"PK\x01\x02") + 9] |= 0x08


def unknown_compression(data):
    data[8] = 99
    data[data.find(b"PK\x01\x02") + 10] = 99


@pytest.mark.parametrize("patch, words", [
    (flip_a_data_byte, "is damaged (BadZipFile: Bad CRC-32"),
    (encrypted, "is encrypted"),
    (name_flagged_utf8_but_not, "not a readable zip archive (UnicodeDecodeError"),
    (unknown_compression, "cannot be unpacked"),
    (lambda data: data.__delitem__(slice(len(data) // 2, None)), "not a readable zip archive"),
])
def test_damaged_or_encrypted_zips_are_refused_with_the_reason(tmp_path, patch, words):
    with pytest.raises(SubmissionError) as info:
        load(patched_zip(tmp_path / "up.zip", patch))
    assert words in str(info.value) and str(info.value).startswith(str(tmp_path / "up.zip"))


@pytest.mark.parametrize("members, words", [
    ([("a" * 300 + ".ipynb", NOTEBOOK, FILE)], "over 255 bytes"),
    ([("a\nb.ipynb", NOTEBOOK, FILE)], "control characters"),
    ([("a", "x", FILE), ("a/hw.ipynb", NOTEBOOK, FILE)], "cannot be unpacked"),
])
def test_member_names_the_file_system_cannot_hold_are_refused(tmp_path, members, words):
    with pytest.raises(SubmissionError, match=words):
        load(make_zip(tmp_path / "up.zip", members))


def test_a_broken_notebook_inside_a_zip_is_named_by_the_zip(tmp_path):
    with pytest.raises(SubmissionError) as info:
        load(make_zip(tmp_path / "up.zip", [("hw/alice.ipynb", "{", FILE)]))
    assert str(info.value).startswith(f"{tmp_path / 'up.zip'} (hw/alice.ipynb): not valid")
