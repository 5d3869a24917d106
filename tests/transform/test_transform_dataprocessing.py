"""DataProcessing for CSV lines as the platform applies it: index filters (negative indices count from the
end), the join of the whole input line with the container's answer, the output filter on the joined line."""

import pytest

from common.errors import ConfigError
from localrun.dataprocessing import DataProcessing, picker

FIELDS = ["id", "a", "b", "c"]


@pytest.mark.parametrize("expression, kept", [
    ("$[1:]", ["a", "b", "c"]), ("$[0,-1]", ["id", "c"]), ("$[0, 2:]", ["id", "b", "c"]),
    ("$[-2:]", ["b", "c"]), ("$[1]", ["a"]), ("$[:2]", ["id", "a"]),
])
def test_index_filters(expression, kept):
    assert picker(expression, "InputFilter")(FIELDS) == kept


def test_everything_and_refusals():
    assert picker("$", "InputFilter") is None and picker(None, "InputFilter") is None
    for bad in ("$.features", "$[a]", "$[1,,2]", "[1:]"):
        with pytest.raises(ConfigError, match="InputFilter"):
            picker(bad, "InputFilter")
    with pytest.raises(ValueError, match="no field 7"):
        picker("$[7]", "OutputFilter")(FIELDS)


def test_join_appends_the_answer_to_the_whole_input_line_then_filters():
    processing = DataProcessing("$[1:]", "Input", "$[0,-2,-1]")
    record = b'id-1,"x, y",2.5,z\n'
    assert processing.request_record(record) == b'"x, y",2.5,z\n'  # quoted commas stay one field
    assert processing.output_line(record, b"0.25,bad\n") == b"id-1,0.25,bad\n"
    assert DataProcessing(None, "Input", None).output_line(b"1,2\n", b"0.5,good\n") == b"1,2,0.5,good\n"
    assert not DataProcessing("$", None, None).active
    with pytest.raises(ConfigError, match="JoinSource"):
        DataProcessing(None, "Output", None)
