"""Who may do what to a job. Anyone may watch a job by its public id. Controlling it needs its token, an
unguessable secret (only its hash is stored) that only the starter's page and the /train caller receive.
A teacher key, when the server has one, may pause or stop any job and clear finished ones; it is never
sent to a page. One caller (a page's session, or an API client) may hold at most a few unfinished jobs, so
that one student cannot fill a class's queue."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from ...nets.limits import ExplorerError

PER_CALLER = 3                     # unfinished jobs one caller may hold
NOT_YOURS = ("only the page (or script) that started this job can control it: its job token is needed, "
             "and this is not it")


def token_hash(token: str) -> str:
    return hashlib.sha256(str(token).encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(the secret token, the public id)."""
    return secrets.token_urlsafe(24), secrets.token_hex(4)


def same(token, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(str(token or "")), stored_hash)


class TeacherKey:
    """The teacher's key, kept as a hash; an empty key means the server has none (the grid is watch-only)."""

    def __init__(self, key: str | None) -> None:
        self.hash = token_hash(key) if key else None

    @property
    def set(self) -> bool:
        return self.hash is not None

    def check(self, key) -> None:
        if self.hash is None:
            raise ExplorerError("this server has no teacher key (start it with --teacher-key, or set "
                                "VAE_TEACHER_KEY): only each run's own page controls it")
        if not same(key, self.hash):
            raise ExplorerError("that is not the teacher key")


def check_caller_limit(unfinished_of_caller: int, limit: int = PER_CALLER) -> None:
    if unfinished_of_caller >= limit:
        raise ExplorerError(f"you already have {unfinished_of_caller} runs that have not finished (at most "
                            f"{limit} at once): stop one, or wait until one ends")
