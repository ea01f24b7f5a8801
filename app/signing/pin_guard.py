"""The signing PIN's attempt limit: ``PIN_ATTEMPTS`` wrong PINs in a row lock a user's remote signing for
``PIN_LOCK``.

A 6-digit PIN has only a million values; the lock makes guessing one through the portal hopeless (five
guesses per quarter of an hour). The count lives in the database (``signing_pin_guards``), so it holds
across every gunicorn worker and web node.

**Why the count is written in a transaction of its own.** A wrong PIN refuses the command: the command's
transaction rolls back, so nothing is completed — and a counter written in that transaction would be
rolled back with it, and never reach the limit. So ``count_wrong_pin`` does not write in the command's
transaction: it asks to be called when that transaction has ended (rolled back, its connection given
back to the pool) and then writes the count in one short transaction of its own: one atomic ``UPDATE``
(or the first ``INSERT``). Waiting for the end matters on SQLite, where the command may hold the database's
write lock (a pessimistic run takes it at ``BEGIN IMMEDIATE``): a second connection writing meanwhile would
wait for it. This separate write is acceptable because the counter is a security record, not a domain
change; it does not touch the audit chain or anything a command decides from.

While a user is locked every PIN is refused before the key is opened, so a locked user cannot even learn
whether a guess was right. A correct PIN resets the count (in the command's own transaction: if the
command fails later for another reason the reset is rolled back, which only keeps the count as it was).
The lock uses the command's clock (``ctx.now``), so tests move the injected clock instead of sleeping.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, case, event, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.i18n import N_
from app.models import SigningPinGuard

from .errors import Reason, SignatureRejected
from .payload import signing_time

log = logging.getLogger(__name__)

PIN_ATTEMPTS = 5
PIN_LOCK = timedelta(minutes=15)

_GUARD = SigningPinGuard.__table__
_COUNT = (
    update(_GUARD)
    .where(_GUARD.c.user_id == bindparam("uid"))
    .values(
        failures=case((_GUARD.c.failures + 1 >= PIN_ATTEMPTS, 0), else_=_GUARD.c.failures + 1),
        locked_until=case(
            (_GUARD.c.failures + 1 >= PIN_ATTEMPTS, bindparam("until", type_=_GUARD.c.locked_until.type)),
            else_=_GUARD.c.locked_until,
        ),
        last_failure_at=bindparam("at", type_=_GUARD.c.last_failure_at.type),
    )
)
_FIRST = insert(_GUARD).values(
    user_id=bindparam("uid"),
    failures=1,
    locked_until=None,
    last_failure_at=bindparam("at", type_=_GUARD.c.last_failure_at.type),
)
_RESET = (
    update(_GUARD).where(and_(_GUARD.c.user_id == bindparam("uid"), _GUARD.c.failures > 0)).values(failures=0)
)


LOCKED = N_("signing is locked after %(attempts)s wrong PINs until %(until)s; try again then")


def locked_message(until: datetime) -> Reason:
    return Reason(LOCKED, attempts=PIN_ATTEMPTS, until=signing_time(until))


def refuse_if_locked(locked_until: datetime | None, at: datetime) -> None:
    """:raises SignatureRejected: field ``pin`` while the user's remote signing is locked."""
    if locked_until is not None and at < locked_until:
        raise SignatureRejected(locked_message(locked_until), field="pin")


def count_wrong_pin(session: Session, user_id: int, failures_before: int, at: datetime) -> str | Reason:
    """Count one wrong PIN once the command's transaction has ended; return the refusal's message."""
    engine = session.get_bind()
    if session.in_transaction():
        done = False

        def write(_session: Session, transaction) -> None:
            nonlocal done
            if not done and transaction.parent is None and not transaction.nested:
                done = True
                _write_failure(engine, user_id, at)

        event.listen(session, "after_transaction_end", write)
    else:
        _write_failure(engine, user_id, at)
    if failures_before + 1 >= PIN_ATTEMPTS:
        log.warning("remote signing of user %s locked after %s wrong PINs", user_id, PIN_ATTEMPTS)
        return locked_message(at + PIN_LOCK)
    return "wrong signing PIN"


def reset(session: Session, user_id: int) -> None:
    """A correct PIN: start counting from zero again (in the command's transaction)."""
    session.execute(_RESET, {"uid": user_id})


def _write_failure(engine: Engine, user_id: int, at: datetime) -> None:
    params = {"uid": user_id, "until": at + PIN_LOCK, "at": at}
    try:
        for attempt in range(2):
            try:
                with engine.begin() as conn:
                    if conn.execute(_COUNT, params).rowcount != 1:  # this user's first wrong PIN
                        conn.execute(_FIRST, {"uid": user_id, "at": at})
                return
            except IntegrityError:  # another process inserted this user's row meanwhile: count there
                if attempt:
                    raise
    except Exception:  # the refusal stands; a counter that could not be written must not hide it
        log.exception("could not count a wrong signing PIN of user %s", user_id)
