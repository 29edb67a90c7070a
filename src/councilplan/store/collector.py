"""Python's cycle collector paused while an act works on a whole ballot's votes.

100,000 votes are some 200,000 new lists and tuples, which set the collector off again and again,
each time over all of them: parsing and counting them took twice as long with it running. That
work makes no reference cycles, so there is nothing for it to find. The store pauses it when an
act loads a ballot's votes (:meth:`~councilplan.store.sql.SqlRecords.ballot_votes`,
``take_votes``, ``ballot_box``) and resumes it when the act's transaction ends; with several
threads, when the last one's pause ends.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_pauses = 0
_resume = False


def pause() -> None:
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1


def resume() -> None:
    global _pauses
    with _lock:
        _pauses -= 1
        if _pauses == 0 and _resume:
            gc.enable()
