"""docs/api.md shows the example agent in full: it must be sdk/examples/agent.py, byte for byte."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_agent_in_the_docs_is_the_script_in_the_sdk():
    docs = (ROOT / "docs" / "api.md").read_text()
    section = docs[docs.index("### An example agent") :]
    shown = section[section.index("```python\n") + len("```python\n") :]
    shown = shown[: shown.index("```\n")]
    assert shown == (ROOT / "sdk" / "examples" / "agent.py").read_text()
