"""orjson as python-socketio's JSON codec, decoding to exactly what `json` would.

python-socketio calls `json.dumps(data, separators=(',', ':'))` and `json.loads(text)`
on its `json=` module. orjson is several times faster; where it would differ from the
standard module it hands over to it, so clients decode the same values:
- whatever orjson refuses to encode (non-string keys, lone surrogates, integers beyond
  64 bits, datetimes and dataclasses, which `json` refuses too) or decode (NaN literals,
  lone surrogate escapes), and any text with a 19-digit run (orjson would read integers
  beyond 64 bits as floats), goes to `json`, which encodes it or raises as before;
- the visible differences: non-ASCII text is sent as UTF-8 rather than \\u escapes
  (the same string once parsed, and fewer bytes), and a float NaN/Infinity is sent as
  null rather than as the NaN/Infinity that JSON parsers reject.
"""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

try:
    import orjson
except ImportError:  # optional: the `speed` extra
    orjson = None  # type: ignore[assignment]


# Types `json` refuses (datetimes, dataclasses) must not be encoded by orjson either.
_SAME_AS_JSON = (
    (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS) if orjson else 0
)


_LONG_NUMBER = re.compile(r"\d{19}")


class OrjsonCodec:
    """The dumps/loads pair python-socketio and python-engineio accept as `json=`."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        try:
            return orjson.dumps(obj, option=_SAME_AS_JSON).decode()
        except TypeError:
            return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        # orjson reads integers beyond 64 bits as floats; `json` keeps them exact.
        if _LONG_NUMBER.search(text if isinstance(text, str) else text.decode(errors="replace")):
            return json.loads(text, **kwargs)
        try:
            return orjson.loads(text)
        except ValueError:
            return json.loads(text, **kwargs)


def socketio_json(choice: str) -> OrjsonCodec | ModuleType | None:
    """The codec for `socketio.AsyncServer(json=...)`: orjson when installed and allowed.

    None keeps python-socketio's default (the standard `json` module).
    """
    if choice == "json":
        return None
    if orjson is None:
        if choice == "orjson":
            raise RuntimeError("SAFECHAT_SOCKETIO_JSON=orjson but orjson is not installed")
        return None
    return OrjsonCodec()
