from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from annotations.importers.base import _ANY_CHANGE, _needs_line_or_control_fix, normalise_with_offset_map
from annotations.text import normalise_text


def test_normal_text_maps_to_itself():
    text, offset_map = normalise_with_offset_map("Уже нормальный текст «да» 🙂\n")
    assert text == "Уже нормальный текст «да» 🙂\n"
    assert [offset_map(i) for i in range(len(text) + 1)] == list(range(len(text) + 1))


def test_offsets_after_a_crlf_move_back_by_one_per_pair():
    raw = "Title\r\nThe minister said «yes».\r\nEnd"
    text, offset_map = normalise_with_offset_map(raw)
    start = raw.index("«yes»")
    assert text[offset_map(start) : offset_map(start + 5)] == "«yes»"
    assert offset_map(raw.index("End")) == text.index("End")


def test_an_offset_between_cr_and_lf_has_no_image():
    raw = "a\r\nb"
    _, offset_map = normalise_with_offset_map(raw)
    assert offset_map(1) == 1
    assert offset_map(2) is None
    assert offset_map(3) == 2


def test_removed_bom_nul_and_controls_collapse_onto_one_offset():
    raw = "\ufeffa\x00b\x07c"
    text, offset_map = normalise_with_offset_map(raw)
    assert text == "abc"
    assert [offset_map(i) for i in range(len(raw) + 1)] == [0, 0, 1, 1, 2, 2, 3]


def test_an_offset_inside_a_character_nfc_composes_has_no_image():
    raw = "e\u0301tat"  # "é" written as e + combining acute
    text, offset_map = normalise_with_offset_map(raw)
    assert text == "état"
    assert offset_map(0) == 0
    assert offset_map(1) is None
    assert offset_map(2) == 1
    assert offset_map(len(raw)) == len(text)


def test_offsets_outside_the_text_have_no_image():
    _, offset_map = normalise_with_offset_map("a\r\nb")
    assert offset_map(-1) is None
    assert offset_map(5) is None


_PIECES = st.sampled_from(
    ["a", "Б", " ", "\n", "\t", "\r\n", "\r", "\ufeff", "\x00", "\x07", "\x85", "e", "\u0301", "é", "🙂", "«", "”"]
)


@given(st.lists(_PIECES, max_size=40).map("".join), st.data())
def test_a_mapped_span_reads_the_original_quote_normalised(raw, data):
    text, offset_map = normalise_with_offset_map(raw)
    assert text == normalise_text(raw)
    assert offset_map(0) == 0
    assert offset_map(len(raw)) == len(text)
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, len(raw)))
    new_start, new_end = offset_map(start), offset_map(end)
    if new_start is not None and new_end is not None:
        assert new_start <= new_end
        assert text[new_start:new_end] == normalise_text(raw[start:end])


@given(st.lists(st.sampled_from(["a", "Ж", "🙂", " ", "\n", "\r\n", "\ufeff", "\x00"]), max_size=40).map("".join))
def test_without_combining_marks_only_offsets_inside_crlf_are_lost(raw):
    text, offset_map = normalise_with_offset_map(raw)
    for offset in range(len(raw) + 1):
        inside_crlf = 0 < offset < len(raw) and raw[offset - 1] == "\r" and raw[offset] == "\n"
        assert (offset_map(offset) is None) == inside_crlf
    mapped = [offset_map(offset) for offset in range(len(raw) + 1)]
    present = [value for value in mapped if value is not None]
    assert present == sorted(present)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F) | st.sampled_from("\r\ufeff\x85«é")))
def test_the_quick_no_change_check_finds_exactly_what_the_pattern_finds(text: str) -> None:
    # The ASCII fast path (bytes.translate) must agree with the regex it stands in for.
    assert _needs_line_or_control_fix(text) == (_ANY_CHANGE.search(text) is not None)


def test_a_lone_control_character_in_ascii_text_is_still_normalised_away():
    for control in ("\x00", "\x07", "\x0b", "\x1f", "\x7f", "\r"):
        text, _ = normalise_with_offset_map(f"plain{control}text")
        assert text == normalise_text(f"plain{control}text") != f"plain{control}text"
