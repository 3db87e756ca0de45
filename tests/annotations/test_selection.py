"""Snapping a selection to words and moving span edges, against Python's own text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.selection import nudge_edge, snap_to_words


def test_a_selection_inside_words_widens_to_whole_words():
    text = "Критики ответили, что бюджет растёт."
    extent = snap_to_words(text, 2, 10)
    assert text[extent.start : extent.end] == "Критики ответили"


def test_snapping_trims_whitespace_and_keeps_guillemets_outside_words():
    text = "He said « taxes will fall » today."
    start = text.index("«")
    extent = snap_to_words(text, start - 1, text.index("»") + 2)
    assert text[extent.start : extent.end] == "« taxes will fall »"


def test_a_combining_mark_belongs_to_its_letter():
    text = "Cafe\u0301 owners"
    extent = snap_to_words(text, 0, 4)
    assert text[extent.start : extent.end] == "Cafe\u0301"


def test_an_emoji_is_not_glued_to_the_word_after_it():
    text = "Exports 🌾grain rose"
    extent = snap_to_words(text, text.index("grain") + 1, text.index(" rose"))
    assert text[extent.start : extent.end] == "grain"


def test_a_whitespace_only_selection_comes_back_empty():
    extent = snap_to_words("a \n b", 1, 4)
    assert extent.start == extent.end


def test_moving_the_end_right_by_a_word_takes_the_next_word():
    text = "the cat sat"
    assert nudge_edge(text, 0, 3, edge="end", direction=1, by_word=True).end == 7


def test_moving_the_end_left_by_a_word_leaves_no_trailing_space():
    text = "the cat sat"
    assert nudge_edge(text, 0, 7, edge="end", direction=-1, by_word=True).end == 3


def test_moving_the_start_right_lands_on_the_next_word():
    text = "the cat sat"
    assert nudge_edge(text, 0, 11, edge="start", direction=1, by_word=True).start == 4


def test_a_move_that_empties_the_span_is_refused():
    with pytest.raises(ValueError, match="empty"):
        nudge_edge("the cat", 0, 3, edge="end", direction=-1, by_word=True)


@given(st.text(min_size=1, max_size=40), st.data())
def test_a_snapped_extent_stays_inside_the_text_and_never_shrinks_past_whitespace(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    extent = snap_to_words(text, start, end)
    assert 0 <= extent.start <= extent.end <= len(text)
    if extent.start < extent.end:
        assert not text[extent.start].isspace() and not text[extent.end - 1].isspace()
