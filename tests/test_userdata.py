"""polyviz.userdata: CSV files and drawn points, validated with a message that names the
row and column of the first problem; nothing in an upload is ever executed or unpickled."""

from __future__ import annotations

import base64
import pickle

import numpy as np
import pytest

from polyviz import userdata as ud


def csv_of(rows, header=None) -> bytes:
    lines = ([",".join(header)] if header else []) + [",".join(str(c) for c in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def problem(data) -> str:
    with pytest.raises(ud.UserDataError) as info:
        ud.parse_csv(data)
    return str(info.value)


FOUR = [(0.5, 1, "a"), (1.5, -2, "b"), (2, 3e-3, "a"), (-4, 5, "b")]


def test_a_plain_file_without_header():
    data = ud.parse_csv(csv_of(FOUR))
    np.testing.assert_array_equal(data.X, np.array([[0.5, 1], [1.5, -2], [2, 3e-3], [-4, 5]], np.float32))
    assert data.classes == ("a", "b") and data.y.tolist() == [0, 1, 0, 1]
    assert data.columns == ("x1", "x2") and data.dim == 2 and data.n == 4


def test_a_header_row_names_the_columns_and_counts_as_row_1():
    data = ud.parse_csv(csv_of(FOUR, header=["height", "weight", "kind"]))
    assert data.columns == ("height", "weight") and data.n == 4
    bad = csv_of([*FOUR[:2], (7, "heavy", "a"), *FOUR[2:]], header=["height", "weight", "kind"])
    assert problem(bad) == "row 4, column 2 ('weight'): 'heavy' is not a number"


def test_quoted_fields_with_commas_quotes_and_line_breaks():
    text = ('"x","y","label"\n"1.5","-2","red, dark"\n" 3 ",4,"say ""hi"""\n5,6,"red, dark"\n'
            '7,8,"say ""hi"""\n9,"10","line\nbreak"\n11,12,"line\nbreak"\n13,x,"red, dark"\n')
    assert problem(text.encode()) == "row 10, column 2 ('y'): 'x' is not a number"  # line numbers count the breaks
    data = ud.parse_csv(text.encode().rsplit(b"13,x", 1)[0])
    assert data.classes == ("line\nbreak", "red, dark", 'say "hi"')
    assert data.y.tolist() == [1, 2, 1, 2, 0, 0]
    np.testing.assert_array_equal(data.X[:, 0], [1.5, 3, 5, 7, 9, 11])


def test_string_labels_become_classes_in_sorted_order():
    labels = ["zebra", "apple", "mango", "apple", "zebra", "mango"]
    data = ud.parse_csv(csv_of([(i, -i, label) for i, label in enumerate(labels)]))
    assert data.classes == tuple(sorted(set(labels)))
    assert [data.classes[k] for k in data.y] == labels
    # numbers sort as numbers, and 1 and 1.0 are one class
    data = ud.parse_csv(csv_of([(0, 0, "10"), (1, 0, "2"), (2, 0, "1.0"), (3, 0, "10"), (4, 0, "2"), (5, 0, "1")]))
    assert data.classes == ("1", "2", "10") and data.y.tolist() == [2, 1, 0, 2, 1, 0]


def test_three_feature_columns():
    rows = [(1, 2, 3, "p"), (4, 5, 6, "q"), (7, 8, 9, "p"), (0, 1, 0, "q")]
    data = ud.parse_csv(csv_of(rows, header=["a", "b", "c", "label"]))
    assert data.dim == 3 and data.columns == ("a", "b", "c") and data.X[1].tolist() == [4, 5, 6]


def test_missing_values_name_row_and_column():
    assert problem(csv_of([*FOUR, (1, "", "a")])) == ("row 5, column 2: missing value (every feature cell needs "
                                                      "a number)")
    assert problem(csv_of([(1, 2, ""), *FOUR], header=["u", "v", "cls"])) == "row 2, column 3 ('cls'): missing label"
    assert problem(csv_of([*FOUR, (1, 2)])) == "row 5: 2 columns; every row needs 3, like the first"


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1e39"])
def test_non_finite_numbers_are_refused(cell):
    message = problem(csv_of([*FOUR[:3], (1, cell, "b")], header=["p", "q", "y"]))
    assert message.startswith(f"row 5, column 2 ('q'): '{cell}' is not a finite number")


def test_the_first_problem_is_named():
    rows = [*FOUR, (1, "nan", "a"), ("x", 2, "b")]
    assert problem(csv_of(rows)).startswith("row 5, column 2: 'nan' is not a finite number")


def test_zero_rows():
    assert problem(b"") == "the file has no data rows"
    assert problem(b"\n\n  \n") == "the file has no data rows"
    assert problem(csv_of([], header=["x", "y", "label"])) == "the file has no data rows (only a header)"


def test_one_class_and_too_many_classes_and_a_lonely_point():
    message = problem(csv_of([(i, i, "same") for i in range(5)], header=["x", "y", "kind"]))
    assert message == ("column 3 ('kind'): every row has the label 'same', so there is one class; allowed: 2 to 10 "
                       "classes")
    rows = [(i, i, f"c{i % 11}") for i in range(33)]
    assert problem(csv_of(rows)) == "row 11, column 3: an 11th class; allowed: 2 to 10 classes"
    assert problem(csv_of([*FOUR, (9, 9, "c")])) == ("row 5, column 3: class c has 1 point; every class needs at "
                                                     "least 2 (one to train on, one to test on)")


def test_too_many_rows():
    rows = [(i * 1e-3, -i * 1e-3, i % 2) for i in range(ud.MAX_ROWS)]
    assert ud.parse_csv(csv_of(rows, header=["a", "b", "y"])).n == ud.MAX_ROWS
    message = problem(csv_of([*rows, (0, 0, 1)], header=["a", "b", "y"]))
    assert message == "row 20002: more than 20,000 data rows; at most 20,000 are allowed"


def test_too_many_bytes_are_refused_before_decoding():
    big = b"1,2,a\n" * (ud.MAX_BYTES // 6 + 1)
    assert len(big) > ud.MAX_BYTES
    assert problem(big) == f"the file is {len(big):,} bytes; at most 2,000,000 are allowed"
    with pytest.raises(ud.UserDataError, match="at most 2,000,000 are allowed"):
        ud.decode_upload("data:text/csv;base64," + "A" * (4 * ud.MAX_BYTES // 3 + 8))


def test_wrong_column_counts_and_other_separators():
    assert problem(b"1,2\n3,4\n") == ("row 1: 2 columns; expected 3 or 4 (2 or 3 numeric feature columns, then the "
                                      "label column)")
    assert problem(b"1,2,3,4,5\n") .startswith("row 1: 5 columns")
    tabs = b"x\ty\tlabel\n1\t2\ta\n3\t4\tb\n5\t6\ta\n7\t8\tb\n"
    semis = tabs.replace(b"\t", b";")
    assert ud.parse_csv(tabs).content_hash == ud.parse_csv(semis).content_hash == ud.parse_csv(
        tabs.replace(b"\t", b",")).content_hash


def test_not_text_and_never_unpickled(tmp_path):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    blob = pickle.dumps(Evil())
    with pytest.raises(ud.UserDataError):
        ud.parse_csv(blob)
    upload = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    with pytest.raises(ud.UserDataError):
        ud.parse_csv(ud.decode_upload(upload))
    assert not marker.exists()
    assert problem(b"1,2,a\n\xff\xfe,3,b\n") == "row 2: the file is not UTF-8 text (a CSV file is expected)"
    assert problem(b"1,2,a\n3,4\x00,b\n") == "row 2: the file holds NUL bytes (a binary file, not CSV)"
    for bad in (None, 5, "no comma", "data:text/csv;base64,@@@", "text/csv,abc"):
        with pytest.raises(ud.UserDataError, match="the upload could not be read"):
            ud.decode_upload(bad)


def test_a_utf8_bom_and_blank_lines_are_fine():
    data = ud.parse_csv(b"\xef\xbb\xbfx,y,label\n\n1,2,a\n3,4,b\n\n5,6,a\n7,8,b\n\n")
    assert data.columns == ("x", "y") and data.n == 4


def test_the_content_hash_depends_on_the_content_only():
    one = ud.parse_csv(b"1,2,a\n3,4,b\n5,6,a\n7,8,b\n")
    two = ud.parse_csv(b' 1.0 ,"2",a\n3,4e0,b\n\n5,6, a\n7,8,b \n')
    assert one.content_hash == two.content_hash and len(one.content_hash) == 40 and ud.is_hash(one.content_hash)
    other = ud.parse_csv(b"1,2,a\n3,4,b\n5,6,a\n7,8.5,b\n")
    assert other.content_hash != one.content_hash
    # the CSV it writes reads back to the same data
    assert ud.parse_csv(one.to_csv()).content_hash == one.content_hash
    assert ud.UserData.from_dict(one.to_dict()).content_hash == one.content_hash


def test_drawn_points_build_up_to_trainable_data():
    data = None
    for x, y, label in [(0.1, 0.2, "1"), (0.3, -0.2, "1"), (-0.5, 0.5, "0")]:
        data = ud.add_point(data, x, y, label)
    assert data.origin == "drawn" and data.classes == ("0", "1") and data.y.tolist() == [1, 1, 0]
    assert data.training_problem() == ("Class 0 has 1 point; every class needs at least 2 (one to train on, one to "
                                       "test on).")
    data = ud.add_point(data, -0.6, 0.4, "0")
    assert data.training_problem() is None
    assert ud.add_point(None, 0, 0, "a").training_problem().startswith("All 1 points are in one class")
    for bad in [(float("nan"), 0, "0"), (0, float("inf"), "0"), (True, 0, "0"), (0, 0, ""), (0, 0, 3), (0, 1e9, "0")]:
        with pytest.raises(ud.UserDataError):
            ud.add_point(data, *bad)
    three_d = ud.parse_csv(b"1,2,3,a\n3,4,5,b\n5,6,7,a\n7,8,9,b\n")
    with pytest.raises(ud.UserDataError, match="2-D data only"):
        ud.add_point(three_d, 0, 0, "a")
