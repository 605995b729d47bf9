"""Numbers as words and plural categories, straight from CLDR (RBNF and plural rules).

Spoken numbers agree with what they count: Russian says "одно сообщение" but "одна минута",
Italian "un messaggio" but "una ora", German dates need "am zweiten". CLDR's rule-based number
format (via unicode-rbnf) has a rule set for each gender and case, named like
``spellout-cardinal-feminine-accusative``; this module picks the rule set from a gender and a
case and never keeps a number table of its own. Plural categories ("one", "few", "many",
"other") come from Babel's CLDR plural rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from babel import Locale
from unicode_rbnf import FormatPurpose, RbnfEngine

__all__ = ["count_words", "number_words", "ordinal_words", "plural_category"]


@cache
def _engine(language: str) -> RbnfEngine:
    # Loading a language's rules parses CLDR XML (tens of ms): once per language.
    return RbnfEngine.for_language(language)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _spell(language: str, n: int, kind: str, gender: str | None, case: str | None) -> str:
    if n < 0:
        raise ValueError(f"cannot spell a negative count: {n}")
    purpose = FormatPurpose.ORDINAL if kind == "ordinal" else FormatPurpose.CARDINAL
    by_ruleset = _engine(language).format_number(n, purpose).text_by_ruleset
    name = "-".join(part for part in ("spellout", kind, gender, case) if part)
    candidates = [name]
    if kind == "cardinal" and gender is None and case is None:
        # German and Italian have no neutral "spellout-cardinal": counting words ("eins",
        # "uno") are the numbering rule set.
        candidates.append("spellout-numbering")
    for candidate in candidates:
        if candidate in by_ruleset:
            return by_ruleset[candidate]
    raise ValueError(f"CLDR has no rule set {name!r} for {language!r}")


def number_words(
    language: str, n: int, *, gender: str | None = None, case: str | None = None
) -> str:
    """``n`` as cardinal words: ``number_words("ru", 1, gender="neuter") == "одно"``.

    ``gender`` and ``case`` are the parts of CLDR rule-set names for ``language`` (ru:
    masculine/feminine/neuter/plural and genitive/dative/accusative/…; fi: partitive/…;
    de: masculine/feminine/neuter). An unknown combination raises ``ValueError``.
    """
    return _spell(language, n, "cardinal", gender, case)


def ordinal_words(
    language: str, n: int, *, gender: str | None = None, case: str | None = None
) -> str:
    """``n`` as ordinal words: ``ordinal_words("ru", 2, gender="neuter", case="genitive")``
    is "второго"; German's inflected forms are ``case="n"`` ("zweiten") and so on."""
    return _spell(language, n, "ordinal", gender, case)


def plural_category(language: str, n: int) -> str:
    """CLDR plural category of ``n`` in ``language``: 'one', 'few', 'many' or 'other'."""
    return str(_locale(language).plural_form(n))


def count_words(
    language: str,
    n: int,
    forms: Mapping[str, str],
    *,
    gender: str | None = None,
    case: str | None = None,
) -> str:
    """The number in words followed by the noun phrase form for its plural category.

    ``forms`` maps plural categories to the words after the number; 'other' is required and
    stands in for any category a table leaves out (Italian 'many' only applies to millions).
    """
    form = forms.get(plural_category(language, n), forms["other"])
    return f"{number_words(language, n, gender=gender, case=case)} {form}"
