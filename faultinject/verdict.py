"""The one line a run ends with on stdout, before the report's path, for campaign and program alike.

    every state ok: 167,243 states, 5 kinds, 1 min 12 s
    FAIL: 3 distinct failures in 1,204 states (52 failing), 5 kinds, 1 min 12 s
    NO VERDICT: <why> (1,204 states, 2 kinds, 8.4 s)

It is derived from the exit status the run returns, never computed apart from it.
"""

from __future__ import annotations

OK, FAIL, USAGE, NO_VERDICT = 0, 1, 2, 3  # exit statuses


def line(
    status: int, states: int, kinds: int, seconds: float, *, distinct: int = 0, failing: int = 0, why: str = ""
) -> str:
    """The verdict for exit status `status` over `states` states of `kinds` kinds in `seconds`."""
    took = f"{states:,} state{'' if states == 1 else 's'}, {kinds} kind{'' if kinds == 1 else 's'}, {duration(seconds)}"
    if status == OK:
        return f"every state ok: {took}"
    if status == NO_VERDICT:
        return f"NO VERDICT: {why or 'the run could not judge every state'} ({took})"
    return (
        f"FAIL: {distinct:,} distinct failure{'' if distinct == 1 else 's'} in {states:,} states "
        f"({failing:,} failing), {took.split(', ', 1)[1]}"
    )


def duration(seconds: float) -> str:
    """`8.4 s`, `1 min 12 s`, `2 h 5 min`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
