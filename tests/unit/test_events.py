"""Outbound events have one home (safechat/events.py) and leave only through the
Notifier: handlers never emit, and every emitted name is a member of `Event`."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from safechat.errors import ChatError, ErrorCode, MessageTooLong
from safechat.events import PAYLOADS, Event, error_payload

SRC = Path(__file__).resolve().parents[2] / "src" / "safechat"
# Calls that send an event, and the position of the event argument in each.
SENDERS = {"emit": 0, "to_group": 1, "to_user": 1, "to_socket": 1}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _is_event(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "Event"


def _annotated_event(annotation: ast.expr | None) -> bool:
    """`Event` or `Event | None`, as a parameter's annotation."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.split("|")[0].strip() == "Event"
    if isinstance(annotation, ast.BinOp):
        return _annotated_event(annotation.left)
    return _is_event(annotation)


class _Scan(ast.NodeVisitor):
    """Collects every event argument of a sending call that is not an Event member
    (a string literal, an unknown member, or a name not typed as Event)."""

    def __init__(self, tree: ast.Module) -> None:
        self.bad: list[str] = []
        self.names: list[str] = []  # member names used, to check they exist
        self._params: list[set[str]] = []
        # Module constants such as CHANNEL = Event.GROUP_ERROR.
        self._constants = {
            target.id: stmt.value
            for stmt in tree.body
            if isinstance(stmt, ast.Assign)
            for target in stmt.targets
            if isinstance(target, ast.Name)
        }

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        self._params.append({a.arg for a in args if _annotated_event(a.annotation)})
        self.generic_visit(node)
        self._params.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _check(self, arg: ast.expr) -> None:
        if isinstance(arg, ast.Name) and arg.id in self._constants:
            arg = self._constants[arg.id]
        if isinstance(arg, ast.Attribute) and _is_event(arg.value):
            self.names.append(arg.attr)
        elif isinstance(arg, ast.Name) and self._params and arg.id in self._params[-1]:
            pass  # passed through, typed as Event
        elif isinstance(arg, ast.Attribute) and arg.attr == "value":
            self._check(arg.value)  # event.value, in the adapter
        else:
            self.bad.append(ast.unparse(arg))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in SENDERS:
            index = SENDERS[func.attr]
            if len(node.args) > index:
                self._check(node.args[index])
        # Boundary.event(name, channel, echo=...), also as `on = self._b.event`.
        registers = (isinstance(func, ast.Attribute) and func.attr == "event") or (
            isinstance(func, ast.Name) and func.id == "on"
        )
        if registers and not ast.unparse(func).endswith("metrics.event"):
            channels = node.args[1:2] + [k.value for k in node.keywords if k.arg == "echo"]
            for channel in channels:
                self._check(channel)
        self.generic_visit(node)


def _scan(path: Path) -> _Scan:
    tree = ast.parse(path.read_text(), filename=str(path))
    scan = _Scan(tree)
    scan.visit(tree)
    return scan


def test_every_emitted_event_is_a_member_of_the_events_module() -> None:
    problems: dict[str, list[str]] = {}
    used: set[str] = set()
    for path in _modules():
        if path.name == "manager.py" and path.parent.name == "socketio":
            continue  # the counting client manager forwards python-socketio's own emit
        scan = _scan(path)
        used.update(scan.names)
        unknown = [n for n in scan.names if n not in Event.__members__]
        if scan.bad or unknown:
            problems[str(path.relative_to(SRC))] = scan.bad + unknown
    assert not problems, f"events not named by safechat.events.Event: {problems}"
    # The scan sees the senders (a scan that found nothing would pass vacuously).
    assert {"NEW_MESSAGE", "MESSAGE_SENT", "GROUP_JOINED", "AUTH_EXPIRED", "AI_ERROR"} <= used


def test_the_scan_catches_a_literal_event_name(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "async def f(notify, sio, gid):\n"
        "    await notify.to_group(gid, 'new_message', {})\n"
        "    await sio.emit(Event.NO_SUCH_EVENT, {})\n"
    )
    scan = _scan(module)
    assert scan.bad == ["'new_message'"]
    assert scan.names == ["NO_SUCH_EVENT"]


@pytest.mark.parametrize("path", sorted((SRC / "handlers").glob("*.py")), ids=lambda p: p.name)
def test_no_handler_emits(path: Path) -> None:
    text = path.read_text()
    assert "sio.emit" not in text
    assert ".emit(" not in text


def test_rooms_are_named_only_in_the_events_module() -> None:
    for path in _modules():
        if path == SRC / "events.py":
            continue
        text = path.read_text()
        for prefix in ('"group:', "'group:", '"user:', "'user:"):
            assert prefix not in text, f"{path.relative_to(SRC)} builds a room name by hand"


def test_every_event_has_a_payload_pydantic_can_describe() -> None:
    assert set(PAYLOADS) == set(Event)
    for event, payload in PAYLOADS.items():
        schema = TypeAdapter(payload).json_schema()
        assert schema, event


def test_error_payload_is_the_body_plus_time_and_request() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    plain = error_payload(ChatError("Server error", code=ErrorCode.INTERNAL_ERROR), now)
    assert plain == {
        "code": "INTERNAL_ERROR",
        "message": "Server error",
        "timestamp": "2024-05-01T12:00:00.123Z",
    }
    long = MessageTooLong(details={"maxLength": 4000, "length": 4001})
    ai = error_payload(long, now, request_id="r1")
    assert list(ai) == ["code", "message", "details", "requestId", "timestamp"]
    assert ai["details"] == {"maxLength": 4000, "length": 4001}
    assert {k: v for k, v in ai.items() if k not in ("requestId", "timestamp")} == long.to_dict()
