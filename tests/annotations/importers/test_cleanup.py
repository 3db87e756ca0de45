from __future__ import annotations

from annotations.importers.cleanup import clean_text, is_furniture

SCRAPED = """Scroll Top

Opposition rally dispersed in the capital

Opposition rally dispersed in the capital

Police detained at least twelve people, the organisers said, calling the arrests «a warning to everyone».

The interior ministry said in a statement that “no one was detained for political reasons”.
Write your comment 15
Follow SteppeNews social media accounts
Share

Add comment…

© 2024 Steppe News. All rights reserved.
relevant news
Most read"""


def test_cleanup_removes_furniture_and_the_repeated_headline_and_keeps_the_article():
    cleaned = clean_text(SCRAPED)
    assert cleaned.removed_lines == (
        "Scroll Top",
        "Opposition rally dispersed in the capital",
        "Write your comment 15",
        "Follow SteppeNews social media accounts",
        "Share",
        "Add comment…",
        "© 2024 Steppe News. All rights reserved.",
        "relevant news",
        "Most read",
    )
    assert cleaned.repeated_lines == ("Opposition rally dispersed in the capital",), "the rest is furniture"
    assert cleaned.text == (
        "Opposition rally dispersed in the capital\n\n"
        "Police detained at least twelve people, the organisers said, calling the arrests «a warning to everyone».\n\n"
        "The interior ministry said in a statement that “no one was detained for political reasons”."
    )


def test_prose_that_mentions_comments_copyright_or_sharing_stays():
    text = (
        "The minister declined to comment on the report.\n"
        "Copyright law was amended on Tuesday.\n"
        "Share prices fell after the announcement.\n"
        "Subscribers were asked to share their views.\n"
        "(c) the third point of the plan concerns pensions."
    )
    cleaned = clean_text(text)
    assert cleaned.text == text
    assert cleaned.removed_lines == ()


def test_short_lines_may_repeat():
    text = "— Yes.\n\nQuestion about taxes?\n\n— Yes."
    assert clean_text(text).text == text


def test_cyrillic_furniture_is_recognised():
    for line in ("Поделиться", "Добавить комментарий", "Читайте также:", "Наверх", "Все права защищены."):
        assert is_furniture(line), line
    assert not is_furniture("Депутат призвал подписаться под петицией о референдуме.")


def test_a_long_line_is_never_furniture_whatever_it_says():
    assert not is_furniture("Share " + "x" * 300)


def test_cleanup_of_clean_text_changes_nothing():
    text = "Headline\n\nFirst paragraph.\n\nSecond paragraph."
    assert clean_text(text) == (text, (), ())
