"""What an account's or a council's name, and a password, may be (issue 12).

A name is what members recognise each other and their councils by, so two names that look alike
must be the same name or not both allowed: account names are compared by :func:`name_key` (NFKC,
then case folded, so "Ada", "ada" and fullwidth "Ａｄａ" are one name), and :func:`unfit_name`
refuses invisible characters (bidirectional overrides and isolates, zero-width and other format
characters, spaces other than U+0020) and words mixing scripts with look-alike letters (Latin
"paypal" with a Cyrillic "а"), using the Unicode confusables data of ``confusable-homoglyphs``.
:func:`unfit_password` refuses passwords that ``zxcvbn`` estimates are guessed in fewer than a
million tries. Plain functions: they return an :class:`Unfit` (a named reason and a message
naming the field and the character) or None, and the service turns it into a refusal.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from confusable_homoglyphs import categories, confusables
from zxcvbn import zxcvbn

__all__ = ["MIN_PASSWORD_SCORE", "Unfit", "name_key", "unfit_name", "unfit_password"]

#: zxcvbn's score runs 0 to 4; 2 means at least about 10**6 guesses. With logins throttled to 10
#: failures per account per 15 minutes (web/auth.py), that is years of guessing online, while
#: 0 and 1 are the lists of common passwords and their small variations.
MIN_PASSWORD_SCORE = 2

#: zxcvbn refuses longer input (its matching is quadratic); the first 72 characters are scored.
_SCORED_CHARACTERS = 72

# Invisible characters that are not of category Cf (Unicode's Default_Ignorable_Code_Point):
# combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation
# selectors, variation selectors.
_IGNORABLE = (
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0}
    | set(range(0x180B, 0x1810))
    | set(range(0xFE00, 0xFE10))
    | set(range(0xE0100, 0xE01F0))
)
_EMOJI_PRESENTATION = {0xFE0E, 0xFE0F}  # text or emoji style, allowed after a symbol ("❤️")
_BIDI_CONTROLS = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F}

# Scripts written together in one word (Japanese, Chinese, Korean): not a mix to refuse.
_CJK = ("HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL")
_SHARED = {"COMMON", "INHERITED"}  # digits, punctuation, combining marks: every script's


@dataclass(frozen=True)
class Unfit:
    """Why a name or password is refused: ``reason`` (a stable code), ``message`` (the field,
    the character at fault and what to do) and ``field``."""

    reason: str
    message: str
    field: str


def name_key(name: str) -> str:
    """The form in which account names are compared: NFKC, case folded, NFKC again (case
    folding can undo NFKC, e.g. for U+0345; the second pass makes the key its own key)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def unfit_name(name: str, field: str) -> Unfit | None:
    """Why ``name`` cannot name an account or a council, or None when it can.

    Refused: control, format (Cf: bidirectional overrides and isolates U+202A-U+202E and
    U+2066-U+2069, marks U+200E/U+200F, zero-width characters but the joiners a script needs,
    see :func:`_needed_joiner`), private-use, unassigned and
    other invisible characters, line and paragraph separators, and spaces other than U+0020;
    and any word (run without spaces) whose letters come from two scripts where one of them is a
    look-alike of a letter of the other (Japanese, Chinese and Korean mixes excepted).
    """
    previous = ""
    for i, char in enumerate(name):
        following = name[i + 1] if i + 1 < len(name) else ""
        problem = None if _needed_joiner(char, previous, following) else _invisible(char, previous)
        if problem:
            return Unfit(
                "invisible_character",
                f"{field}: {_describe(char)} is not allowed ({problem}); remove it",
                field,
            )
        previous = char
    for word in name.split():
        lookalike = _lookalike(word)
        if lookalike:
            char, script, glyph, glyph_script = lookalike
            return Unfit(
                "mixed_scripts",
                f"{field}: {_describe(char)} in {word!r} looks like {glyph_script.title()} "
                f"{glyph!r} ({unicodedata.name(glyph, '?')}) and the word mixes "
                f"{script.title()} with {glyph_script.title()}; write each word in one script",
                field,
            )
    return None


def unfit_password(
    password: str, field: str = "password", *, user_inputs: Iterable[str] = ()
) -> Unfit | None:
    """Why ``password`` is too easy to guess, or None: zxcvbn's score of its first 72
    characters, with ``user_inputs`` (the account's names, and each word of them) counted as
    words an attacker knows, below :data:`MIN_PASSWORD_SCORE`."""
    words = ["councilplan", "council"]
    for name in user_inputs:  # "Ada Lovelace": "lovelace" is a word an attacker knows too
        words += [w for w in (name, *re.split(r"[\W_]+", name)) if w]
    result = zxcvbn(password[:_SCORED_CHARACTERS], user_inputs=words)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"]["warning"].rstrip(".")
    if any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"]):
        why = "it is made from your name or this site's"
    elif warning.startswith("This is a top-") or warning == "This is a very common password":
        why = "this is one of the most common passwords"
    elif warning == "This is similar to a commonly used password":
        why = "this is a common password with small changes"
    elif warning:
        why = warning[0].lower() + warning[1:]
    else:
        why = "it would be guessed in under a million tries"
    return Unfit(
        "weak_password",
        f"{field}: {why}; choose another (three or four uncommon words make a good one)",
        field,
    )


_ZWNJ, _ZWJ = "\u200c", "\u200d"
#: Scripts whose letters join, where a zero-width non-joiner between two letters changes the
#: word (Persian writes "mi\u200cxaham" so); Joining_Type, which RFC 5892 asks for, is not in
#: Python's unicodedata, so the letters' script stands for it.
_JOINING_SCRIPTS = ("ARABIC", "SYRIAC", "NKO", "MONGOLIAN", "MANDAIC", "ADLAM")


def _needed_joiner(char: str, previous: str, following: str) -> bool:
    """Whether a zero-width (non-)joiner is part of how the word is written, as RFC 5892's
    CONTEXTJ rules allow in internationalised domain names: after a virama (Indic scripts
    choose a conjunct's form with it), a non-joiner between two letters of a joining script,
    and a joiner inside an emoji sequence. Anywhere else it is refused as invisible."""
    if char not in (_ZWNJ, _ZWJ) or not previous or not following:
        return False
    if unicodedata.combining(previous) == 9:  # a virama
        return True
    if char == _ZWNJ:
        return all(
            unicodedata.category(c).startswith("L")
            and unicodedata.name(c, "").startswith(_JOINING_SCRIPTS)
            for c in (previous, following)
        )
    return unicodedata.category(previous) == "So" and unicodedata.category(following) == "So"


def _invisible(char: str, previous: str) -> str | None:
    code = ord(char)
    category = unicodedata.category(char)
    if code in _BIDI_CONTROLS:
        return "it reorders how the text around it is shown"
    if code in _EMOJI_PRESENTATION and previous and unicodedata.category(previous) == "So":
        return None
    if category == "Cf" or code in _IGNORABLE:
        return "it is invisible, so the name would look like another"
    if category in ("Cc", "Zl", "Zp"):
        return "a name is one line of text"
    if category in ("Co", "Cn", "Cs"):
        return "it has no agreed look"
    if category == "Zs" and char != " ":
        return "use a plain space, U+0020"
    return None


def _lookalike(word: str) -> tuple[str, str, str, str] | None:
    """(character, its script, the letter it looks like, that letter's script) for the first
    look-alike in a word of mixed scripts; the script with most letters counts as the word's."""
    scripts = Counter(_group(categories.alias(c)) for c in word)
    for shared in _SHARED:
        scripts.pop(shared, None)
    if len(scripts) < 2:
        return None
    for base, _count in scripts.most_common():
        preferred = list(_CJK) if base == "CJK" else [base]
        found = confusables.is_confusable(word, greedy=True, preferred_aliases=preferred) or []
        for hit in found:
            if hit["alias"] in _SHARED:
                continue
            for homoglyph in hit["homoglyphs"]:
                glyph = homoglyph["c"]
                if len(glyph) == 1 and _group(categories.alias(glyph)) == base:
                    return hit["character"], hit["alias"], glyph, categories.alias(glyph)
    return None


def _group(script: str) -> str:
    return "CJK" if script in _CJK else script


def _describe(char: str) -> str:
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "an unnamed character")
    return f"U+{ord(char):04X} {name}"


_CONTROL_NAMES = {"\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}
