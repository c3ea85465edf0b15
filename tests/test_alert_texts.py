"""What a person reads: every alert kind the code raises is named in plain words, and no alert, skip,
quarantine or outbox text carries a rule code (O22, F3...). The kinds and texts are read from the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import orderbridge
from orderbridge.book.alerts import KINDS, WAITING_INBOUND, kind_name

SOURCE = Path(orderbridge.__file__).parent
RULE_CODE = re.compile(r"\b[OCPFRSI]\d+\b")
# Calls whose text a person reads: alerts, channel warnings, quarantine and skip reasons, refusals,
# reasons a shipment is not confirmed, e-mail notices, mapping errors (they become quarantine reasons).
WRITERS = {
    "raise_alert",
    "AlertSpec",
    "quarantine",
    "mark_skipped",
    "refuse",
    "NotSent",
    "queue_notice",
    "fail",
}
CONSTANTS = {"WAITING_REASON", "_NOT_BOOKED", "reason", "message", "text", "problem", "what"}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text()))
        for path in SOURCE.rglob("*.py")
        if "simulator" not in path.parts and "migrations" not in path.parts
    ]


def _module_constants(tree: ast.Module) -> dict[str, str]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def raised_kinds() -> set[str]:
    """Every alert kind the code raises: raise_alert's and AlertSpec's kind argument, read from the source
    (a constant, a module-level name, or an f-string's fixed start)."""
    kinds: set[str] = set()
    imported = {}
    for _, tree in _modules():
        imported.update(_module_constants(tree))
    for path, tree in _modules():
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = _name(call)
            if name not in {"raise_alert", "AlertSpec", "warn_channel"}:
                continue
            position = {"raise_alert": 3, "AlertSpec": 0, "warn_channel": 2}[name]
            if len(call.args) <= position:
                continue
            arg = call.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                kinds.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in imported:
                kinds.add(imported[arg.id])
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                kinds.add(str(arg.values[0].value))  # a kind per shipment: its fixed start
            elif isinstance(arg, ast.Attribute | ast.Name):
                continue  # passed on from an AlertSpec or a parameter, counted where it is made
            else:
                raise AssertionError(f"{path}:{call.lineno}: an alert kind the test cannot read")
    return kinds


def test_every_alert_kind_the_code_raises_is_named_for_the_seller() -> None:
    kinds = raised_kinds()
    assert {"cancelled_after_ready", "gift_message_unmapped", "sync_failing", "amazon_refused"} <= kinds
    unnamed = sorted(k for k in kinds if k not in KINDS and not k.startswith(WAITING_INBOUND))
    assert unnamed == []
    assert all(not RULE_CODE.search(kind_name(k)) for k in kinds)


def test_no_rule_code_in_any_alert_quarantine_skip_or_outbox_text() -> None:
    leaks = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            texts: list[str] = []
            if isinstance(node, ast.Call) and _name(node) in WRITERS:
                texts = _strings(node)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in CONSTANTS for t in node.targets
            ):
                texts = _strings(node.value)
            leaks += [
                f"{path.relative_to(SOURCE)}:{node.lineno}: {t!r}" for t in texts if RULE_CODE.search(t)
            ]
    assert leaks == []
