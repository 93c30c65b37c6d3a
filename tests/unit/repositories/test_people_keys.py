"""The directory's keys and range, and the direct conversation's pair key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from safechat.repositories.directs import pair_key
from safechat.repositories.users import search_filter, search_keys


def test_search_keys_are_lowercased_names_and_the_full_name() -> None:
    doc = {"username": "annie", "firstName": "Ann", "lastName": "Smith", "email": "a@x.io"}
    assert search_keys(doc) == ["ann", "ann smith", "annie", "smith"]
    assert search_keys({"firstName": "  ", "lastName": None}) == []


def test_range_is_the_prefix_to_its_successor() -> None:
    assert search_filter("ann") == {"searchKeys": {"$gte": "ann", "$lt": "ano"}}
    # The successor of U+D7FF skips the surrogates (not text, not storable).
    assert search_filter("a\ud7ff")["searchKeys"]["$lt"] == "a\ue000"


@given(st.text(min_size=1, max_size=8), st.text(max_size=8))
def test_every_key_with_the_prefix_is_in_range(prefix: str, rest: str) -> None:
    bounds = search_filter(prefix)["searchKeys"]
    key = prefix + rest
    # Code point order is UTF-8 byte order, which is how BSON compares strings.
    assert bounds["$gte"].encode("utf-8", "surrogatepass") <= key.encode("utf-8", "surrogatepass")
    assert key.encode("utf-8", "surrogatepass") < bounds["$lt"].encode("utf-8", "surrogatepass")


def test_pair_key_is_the_same_from_both_sides() -> None:
    assert pair_key("user_b", "user_a") == pair_key("user_a", "user_b") == "user_a:user_b"
