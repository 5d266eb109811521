"""Cutting escaped text: `cut()` and `excerpt()` never end inside an escape (`\\x1b` -> `\\x1`).

Text for a terminal is redacted, then escaped, then cut; an escape cut in half would print as
garbage (`\\x1...`) or, worse, leave a lone backslash that changes how the next text reads.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iotcentral._redact import REDACTED, cut
from iotcentral._responses import excerpt
from iotcentral._sanitize import UNSAFE, for_terminal


@pytest.mark.parametrize("limit", range(0, 14))
def test_cut_never_splits_an_escape(limit: int) -> None:
    text = for_terminal("ab\x1b\u202ecd")  # ab\x1b\u202ecd
    body = cut(text, limit).removesuffix("...")
    assert body in {"", "a", "ab", "ab\\x1b", "ab\\x1b\\u202e", "ab\\x1b\\u202ec", text}


def _boundaries(pieces: list[str]) -> set[int]:
    ends, total = {0}, 0
    for piece in pieces:
        total += len(piece)
        ends.add(total)
    return ends


_REPR_TOKEN = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)|.", re.DOTALL)


@settings(max_examples=300)
@given(text=st.text(), limit=st.integers(0, 60))
def test_cut_ends_on_a_character_boundary_of_escaped_text(text: str, limit: int) -> None:
    """Whatever the text, the cut keeps whole escapes, of `for_terminal` and of `repr` alike."""
    escaped = for_terminal(text)
    body = cut(escaped, limit).removesuffix("...")
    assert escaped.startswith(body)
    assert len(body) <= limit
    assert len(body) in _boundaries([for_terminal(c) for c in text])
    inner = repr(text)[1:-1]
    body = cut(inner, limit).removesuffix("...")
    assert inner.startswith(body)
    assert len(body) <= limit
    assert len(body) in _boundaries(_REPR_TOKEN.findall(inner))


@pytest.mark.parametrize("padding", range(190, 201))
def test_an_excerpt_never_ends_in_half_an_escape(padding: int) -> None:
    quote_ = excerpt(b"a" * padding + b"\x1b\x1b\x1b\x1b\x9b" + b"z" * 400)
    assert re.search(r"\\x?[0-9a-f]?\.\.\.'$", quote_) is None, quote_
    assert UNSAFE.search(quote_) is None


def test_an_excerpt_cut_short_by_the_read_limit_ends_in_one_ellipsis() -> None:
    assert excerpt(b"a" * 199 + b" " * 700) == repr("a" * 199 + "...")
    assert excerpt(b"\x1b" * 50 + b" " * 800) == repr("\x1b" * 50 + "...")  # 200 escaped


def test_a_marker_and_an_escape_at_the_cut_both_stay_whole() -> None:
    text = for_terminal(f"ab\x1b{REDACTED}\x9bz")
    for limit in range(len(text)):
        body = cut(text, limit).removesuffix("...")
        assert body in {"", "a", "ab", "ab\\x1b", f"ab\\x1b{REDACTED}", f"ab\\x1b{REDACTED}\\x9b"}


def test_a_lone_backslash_pair_is_never_split() -> None:
    inner = repr("a\\b")[1:-1]  # a\\b: an escaped backslash
    assert cut(inner, 2) == "a..."
    assert cut(inner, 3) == "a\\\\..."


def test_a_lone_backslash_at_the_cut_is_dropped() -> None:
    """Not an escape (a Windows path in a message, say): the cut still ends on whole text."""
    assert cut("ab\\cdef", 3) == "ab..."
    assert cut("ab\\\\\\cdef", 5) == "ab\\\\..."  # a pair kept whole, the third dropped


def test_a_marker_cut_near_the_start_is_dropped_whole() -> None:
    assert cut(f"a{REDACTED} and more", 5) == "a..."
    assert cut(f"{REDACTED} and more", 4) == "..."
