"""The shipped look-alike table is the one confusable-homoglyphs' data gives."""

from __future__ import annotations

from importlib import resources

from bot.confusables import TABLE_FILE, classes_from_unicode_data, prototypes, table_of


def test_the_shipped_table_is_what_the_unicode_data_gives() -> None:
    # After upgrading confusable-homoglyphs: python -m bot.confusables
    expected = table_of(classes_from_unicode_data())
    assert prototypes() == expected
    assert prototypes()["\u043e"] == "o"  # Cyrillic o
    assert prototypes()["\u217c"] == "1"  # small roman numeral fifty


def test_the_shipped_file_is_ascii() -> None:
    data = resources.files("bot").joinpath(TABLE_FILE).read_bytes()
    assert data.isascii()
