"""What every `python -m model.*` command does with a refusal: one line on stderr, exit status 2."""
from __future__ import annotations

import sys


def fail(error: BaseException) -> int:
    """Print `error: ...` on one line (whatever newlines the message holds) and return 2."""
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return 2


def run(action, *errors: type[BaseException]) -> int:
    """Run action(); print the line it returns and exit 0, or report one of `errors` and exit 2."""
    try:
        print(action())
    except errors as e:
        return fail(e)
    return 0
