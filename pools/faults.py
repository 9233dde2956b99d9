"""Fault injection for the crash tests: a process started with LAUNCHPAD_CRASH_AT=<point> kills itself there.

Unset (always, outside the fault tests), `crash_point` does nothing.
"""

import os
import signal

CRASH_AT_VARIABLE = "LAUNCHPAD_CRASH_AT"


def crash_point(name: str) -> None:
    """Die like a SIGKILLed worker at this point, when asked to by the environment; once per marker file."""
    if os.environ.get(CRASH_AT_VARIABLE) != name:
        return
    marker = os.environ.get("LAUNCHPAD_CRASH_MARKER", "")
    if marker:
        if os.path.exists(marker):
            return  # crashed here once already: the restarted worker goes on
        with open(marker, "w") as handle:
            handle.write(name)
    os.kill(os.getpid(), signal.SIGKILL)
