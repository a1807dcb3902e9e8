"""The production `Clock`: the real time, in UTC (the fake, `ManualClock`, is in the fakes)."""

from __future__ import annotations

import datetime as dt


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        """`datetime.now(UTC)`."""
        return dt.datetime.now(dt.UTC)
