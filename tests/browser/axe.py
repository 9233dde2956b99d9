"""axe-core (from npm, node_modules/axe-core) run inside the page, for the browser tests that check accessibility.

Only what axe rates serious or critical fails a test; moderate and minor findings are printed, not hidden.
"""

from __future__ import annotations

from tests.anvil import PROJECT_ROOT

AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


def axe_violations(page) -> list[dict]:
    """axe's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )


def describe(violations: list[dict]) -> str:
    return "\n".join(f"- {v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations)


def assert_accessible(page, where: str) -> None:
    """No serious or critical axe violation on the page; lesser ones are printed for the log."""
    violations = axe_violations(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    lesser = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if lesser:
        print(f"axe on {where}, not failing:\n{describe(lesser)}")
    assert not failing, f"axe on {where}:\n{describe(failing)}"
