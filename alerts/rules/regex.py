"""Label regexes: fully anchored, and only shapes that match in linear time.

Python's ``re`` backtracks, so a pattern such as ``(a+)+$`` can take exponential time on a
128-character label value. PromQL uses RE2, which has no such patterns; this module refuses the
shapes that backtrack badly (a repetition inside a repetition, alternatives inside a repetition,
back-references, look-arounds) so that matching stays fast whatever the label values are.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as sre_constants
from re import _parser as sre_parse

MAX_REGEX_LENGTH = 256
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
_FORBIDDEN = {
    sre_constants.GROUPREF: "back-references are not supported",
    sre_constants.GROUPREF_EXISTS: "conditional groups are not supported",
    sre_constants.ASSERT: "look-ahead and look-behind are not supported",
    sre_constants.ASSERT_NOT: "look-ahead and look-behind are not supported",
}


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used as a label regex, or None when it can."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"longer than {MAX_REGEX_LENGTH} characters"
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"invalid ({exc})"
    return _shape_problem(parsed, inside_repeat=False)


def _shape_problem(items: object, *, inside_repeat: bool) -> str | None:
    for op, arg in items:  # type: ignore[attr-defined]
        if op in _FORBIDDEN:
            return _FORBIDDEN[op]
        if op in _REPEATS:
            if inside_repeat:
                return "a repetition inside a repetition can take exponential time"
            problem = _shape_problem(arg[2], inside_repeat=True)
        elif op == sre_constants.BRANCH:
            if inside_repeat:
                return "alternatives inside a repetition can take exponential time"
            problem = _first(_shape_problem(b, inside_repeat=inside_repeat) for b in arg[1])
        elif op == sre_constants.SUBPATTERN:
            problem = _shape_problem(arg[-1], inside_repeat=inside_repeat)
        elif op == sre_constants.ATOMIC_GROUP:
            problem = _shape_problem(arg, inside_repeat=inside_repeat)
        else:
            problem = None
        if problem:
            return problem
    return None


def _first(problems: object) -> str | None:
    for problem in problems:  # type: ignore[attr-defined]
        if problem:
            return problem
    return None


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """The anchored pattern (PromQL regexes match the whole label value)."""
    return re.compile(f"(?:{pattern})")
