"""`.env` read exactly as Django's settings read it (django-environ's `Env.read_env`), with the standard library only.

One parser, two users: the signer (`python -m enclave_signer serve` run by itself) and scripts/devstack.py, which
runs before the virtualenv exists and decides from the same settings whether to start a local chain. Both must see
what the web tier sees, or they would work on one chain while the apps talk to another.

The rules are django-environ 0.14's, with `parse_comments` off as settings.py calls it:
- a line is `KEY=VALUE` or `export KEY=VALUE`, KEY of letters, digits and underscores, no spaces around `=`;
- the value runs to the end of the line (a `#` inside it is part of it);
- a value wholly in single quotes is taken as is; wholly in double quotes, `\\x` becomes `x` except `\\n`, `\\r` and
  `\\t`, which stay as written;
- blank lines and lines starting with `#` are skipped; any other line is ignored;
- a key given twice: the later line wins;
- the process environment wins over the file (`overwrite=False`).

This module imports nothing outside the standard library (the package's `__init__` imports nothing either), so
devstack can import it with the system Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

DOTENV_FILE = Path(".env")  # relative to the working directory: the project root for every process we start

_LINE = re.compile(r"\A(?:export )?([A-Za-z_0-9]+)=(.*)\Z")
_SINGLE_QUOTED = re.compile(r"\A'(.*)'\Z")
_DOUBLE_QUOTED = re.compile(r'\A"(.*)"\Z')
_ESCAPE = re.compile(r"\\(.)")


def _unescape(match: re.Match) -> str:
    """Inside double quotes `\\n`, `\\r` and `\\t` stay as written (django-environ leaves them to the reader)."""
    char = match.group(1)
    return "\\" + char if char in "rnt" else char


def parse_dotenv(text: str) -> dict[str, str]:
    """The variables a `.env` text sets, as django-environ reads them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2)
        single = _SINGLE_QUOTED.match(value)
        if single:
            value = single.group(1)
        double = _DOUBLE_QUOTED.match(value)
        if double:
            value = _ESCAPE.sub(_unescape, double.group(1))
        values[key] = value
    return values


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables the file at `path` sets; none when it does not exist or cannot be read (as django-environ)."""
    try:
        return parse_dotenv(path.read_text(encoding="utf8"))
    except OSError:
        return {}


def merged_environment(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The file's variables with `environ` on top: what a process sees after settings.py's `read_env`."""
    return {**read_dotenv(path), **environ}
