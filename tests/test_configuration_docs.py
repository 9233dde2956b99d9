"""Every environment variable the code reads is documented in .env.example and README.md."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_READS = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
SIGNER_READS = re.compile(r"""["']((?:SIGNER|CHAIN)_[A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names = set(SETTINGS_READS.findall((ROOT / "launchpad" / "settings.py").read_text()))
    for path in (ROOT / "enclave_signer").glob("*.py"):
        names |= set(SIGNER_READS.findall(path.read_text()))
    return names


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_every_variable_the_code_reads_is_documented(document):
    text = (ROOT / document).read_text()

    undocumented = sorted(name for name in variables_read() if name not in text)

    assert not undocumented, f"{document} does not mention {undocumented}"
