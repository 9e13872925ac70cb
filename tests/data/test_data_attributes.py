"""Parsing the official CelebA annotation files."""

from collections import Counter

import numpy as np
import pytest

from facegen.data import (
    CELEBA_ATTRIBUTES,
    read_attribute_file,
    read_identity_file,
    read_partition_file,
)

HEADER = " ".join(CELEBA_ATTRIBUTES)


def _values(*ones: int) -> str:
    """A row of 40 values, padded with two spaces like the official file, +1 at the given columns."""
    return "  ".join("1" if i in ones else "-1" for i in range(40))


def _write(path, lines: list[str]) -> None:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


def test_crlf_and_runs_of_spaces(tmp_path):
    path = tmp_path / "list_attr_celeba.txt"
    _write(path, ["2", HEADER + " ", f"000001.jpg {_values(0, 39)}", f"000003.jpg  {_values(20)}", ""])
    names, values = read_attribute_file(path)
    assert names == ["000001.jpg", "000003.jpg"]
    assert values.dtype == np.int8 and values.shape == (2, 40)
    assert values[0, 0] == 1 and values[0, 39] == 1 and values[0, 1] == -1
    assert values[1, 20] == 1 and (values[1] == 1).sum() == 1


def test_count_line_must_match_rows(tmp_path):
    path = tmp_path / "attrs.txt"
    _write(path, ["3", HEADER, f"000001.jpg {_values()}"])
    with pytest.raises(ValueError, match=r"attrs\.txt, line 1: says 3 images but the file has 1 rows"):
        read_attribute_file(path)


def test_header_must_be_the_official_names(tmp_path):
    path = tmp_path / "attrs.txt"
    _write(path, ["1", HEADER.replace("Smiling", "Grinning"), f"000001.jpg {_values()}"])
    with pytest.raises(ValueError, match=r"attrs\.txt, line 2: .*Grinning"):
        read_attribute_file(path)


def test_bad_value_names_its_line(tmp_path):
    path = tmp_path / "attrs.txt"
    _write(path, ["2", HEADER, f"000001.jpg {_values()}", f"000002.jpg {_values().replace('-1', '0', 1)}"])
    with pytest.raises(ValueError, match=r"line 4: attribute values must be -1 or 1"):
        read_attribute_file(path)


def test_short_row_names_its_line(tmp_path):
    path = tmp_path / "attrs.txt"
    _write(path, ["1", HEADER, "000001.jpg 1 -1"])
    with pytest.raises(ValueError, match=r"line 3: expected a filename and 40 values, found 3 fields"):
        read_attribute_file(path)


def test_partition_and_identity_files(tmp_path):
    _write(tmp_path / "partition.txt", ["000001.jpg 0", "000002.jpg  1", "182638.jpg 2"])
    _write(tmp_path / "identity.txt", ["000001.jpg 2880", "000002.jpg 2937"])
    assert read_partition_file(tmp_path / "partition.txt") == {"000001.jpg": 0, "000002.jpg": 1, "182638.jpg": 2}
    assert read_identity_file(tmp_path / "identity.txt") == {"000001.jpg": 2880, "000002.jpg": 2937}
    _write(tmp_path / "partition.txt", ["000001.jpg 0", "000002.jpg 3"])
    with pytest.raises(ValueError, match=r"partition\.txt, line 2: value 3 is not one of \[0, 1, 2\]"):
        read_partition_file(tmp_path / "partition.txt")


def test_shared_attribute_file(celeba_root):
    assert (celeba_root / "list_attr_celeba.txt").read_bytes()[:7] == b"11448\r\n"  # the CRLF original format
    names, values = read_attribute_file(celeba_root / "list_attr_celeba.txt")
    assert len(names) == 11_448 and values.shape == (11_448, 40)
    assert set(np.unique(values)) == {-1, 1}
    assert names[:3] == ["000001.jpg", "000002.jpg", "000004.jpg"]
    smiling, male, young = (CELEBA_ATTRIBUTES.index(a) for a in ("Smiling", "Male", "Young"))
    assert (values[0, smiling], values[0, male], values[0, young]) == (1, -1, 1)


def test_shared_partition_and_identity_files(celeba_root):
    partition = read_partition_file(celeba_root / "list_eval_partition.txt")
    assert Counter(partition.values()) == {0: 9_989, 1: 764, 2: 695}
    identity = read_identity_file(celeba_root / "identity_CelebA.txt")
    assert len(identity) == 11_448 and identity["000001.jpg"] == 2880
