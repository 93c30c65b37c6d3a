"""The optional speedups: orjson as Socket.IO's codec decodes like `json`; uvloop serve."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safechat.adapters.socketio.fast_json import OrjsonCodec, socketio_json
from safechat.cli import new_event_loop

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_encodes_to_what_json_decodes_the_same(value: Any) -> None:
    ours = OrjsonCodec.dumps(value, separators=(",", ":"))
    assert json.loads(ours) == json.loads(json.dumps(value, separators=(",", ":")))


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_decodes_what_json_decodes(value: Any) -> None:
    text = json.dumps(value)
    assert OrjsonCodec.loads(text) == json.loads(text)
    assert type(OrjsonCodec.loads(text)) is type(json.loads(text))


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key"},
        "\ud800 lone surrogate",
        2**70,
        {"nested": [2**64, -(2**64)]},
    ],
)
def test_what_orjson_cannot_encode_goes_to_json(value: Any) -> None:
    assert OrjsonCodec.dumps(value) == json.dumps(value)


@pytest.mark.parametrize(
    "text",
    ['{"a":NaN}', '"\\ud800"', "123456789012345678901234567890", '{"seq": 18446744073709551616}'],
)
def test_what_orjson_would_read_differently_goes_to_json(text: str) -> None:
    assert repr(OrjsonCodec.loads(text)) == repr(json.loads(text))


def test_types_json_refuses_stay_refused() -> None:
    import datetime

    for value in (datetime.datetime.now(), {1, 2}, object()):
        with pytest.raises(TypeError):
            OrjsonCodec.dumps(value)


def test_invalid_json_raises_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        OrjsonCodec.loads('{"a": [1,')


def test_codec_choice() -> None:
    assert socketio_json("json") is None
    assert isinstance(socketio_json("auto"), OrjsonCodec)
    assert isinstance(socketio_json("orjson"), OrjsonCodec)


def test_event_loop_choice() -> None:
    loop, name = new_event_loop("asyncio")
    try:
        assert name == "asyncio"
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()
    loop, name = new_event_loop("auto")
    try:
        assert name == "uvloop"
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()
