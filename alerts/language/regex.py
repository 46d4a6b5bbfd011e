"""Label regexes: RE2 syntax, fully anchored, matched in time linear in the label value.

Every pattern a user supplies (rule and query matchers, silence matchers) is compiled and matched
here, and only here. Python's ``re`` backtracks, so ``.*.*.*…#`` against a long label value takes
time exponential in the number of repetitions; RE2 (what Prometheus and Alertmanager use) runs an
automaton instead, so any pattern it accepts matches in time proportional to the pattern's
program size times the value's length. Nested repetition such as ``(a+)+`` is therefore fine;
what RE2 cannot do (back-references, look-arounds) is refused with the reason and its position.

Semantics, as PromQL (Prometheus 3): the pattern must match the whole value, and ``.`` matches a
newline too. Matching is by Unicode code point (RE2 in UTF-8 mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import re2

MAX_REGEX_LENGTH = 256
# RE2 bounds compilation by memory; this bounds matching too: the cost of one match is at most
# about program size x value length (a 4096-instruction program over a 128-character label value
# is a few milliseconds at worst).
MAX_PROGRAM_SIZE = 4096


class RegexError(ValueError):
    """A pattern that cannot be used as a label regex: why, and where in the pattern if known."""

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        where = f" at character {offset + 1}" if offset is not None else ""
        super().__init__(f"{reason}{where}")
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True, eq=False)
class LabelRegex:
    """A compiled label regex; :meth:`matches` is anchored at both ends."""

    pattern: str
    _compiled: re2._Regexp[bytes]

    def matches(self, value: str) -> bool:
        # UTF-8 bytes in (RE2 still matches code points), so no per-match offset bookkeeping of
        # str input; a lone surrogate, which no stored value should hold, cannot raise here.
        return self._compiled.fullmatch(value.encode("utf-8", "surrogatepass")) is not None


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.never_capture = True  # groups are never read: skip the bookkeeping
    options.dot_nl = True  # Prometheus 3: "." matches "\n" as well
    return options


def compile_label_regex(pattern: str) -> LabelRegex:
    """The compiled ``pattern``, or :class:`RegexError` saying why it cannot be used."""
    if not isinstance(pattern, str):
        raise RegexError("expected text")
    return _compile(pattern)


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> LabelRegex:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise RegexError(f"longer than {MAX_REGEX_LENGTH} characters")
    bad = _first_unencodable(pattern)
    if bad is not None:
        raise RegexError(bad[1], offset=bad[0])
    try:
        compiled = re2.compile(pattern.encode(), _options())
    except re2.error as exc:
        raise _explained(pattern, exc) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise RegexError(
            f"too complex ({compiled.programsize} automaton steps; the limit is "
            f"{MAX_PROGRAM_SIZE}): use smaller repetition counts"
        )
    return LabelRegex(pattern, compiled)


def _first_unencodable(pattern: str) -> tuple[int, str] | None:
    for index, char in enumerate(pattern):
        if char == "\x00":
            return index, "contains a NUL character"
        if "\ud800" <= char <= "\udfff":
            return index, "contains a lone surrogate (not valid Unicode)"
    return None


def _explained(pattern: str, exc: Exception) -> RegexError:
    """RE2's message (``missing ): (abc``), with the offset of the fragment it quotes."""
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    reason, _, fragment = message.partition(": ")
    # RE2 quotes the offending part; when that is the whole pattern, the place is not known.
    offset = pattern.find(fragment) if fragment and fragment != pattern else -1
    if "perl operator" in reason and fragment.startswith(("(?=", "(?!", "(?<=", "(?<!")):
        reason = "look-ahead and look-behind are not supported (RE2 syntax)"
    elif reason == "invalid escape sequence" and fragment[1:2] in tuple("0123456789"):
        reason = "back-references are not supported (RE2 syntax)"
    elif fragment:
        reason = f"{reason}: {fragment}"
    return RegexError(reason or "invalid", offset=offset if offset >= 0 else None)


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used as a label regex, or None when it can."""
    try:
        compile_label_regex(pattern)
    except RegexError as exc:
        return str(exc)
    return None


def regex_matches(pattern: str, value: str) -> bool:
    """Whether ``pattern`` (already validated) matches the whole of ``value``."""
    return _compile(pattern).matches(value)
