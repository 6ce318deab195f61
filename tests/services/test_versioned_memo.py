"""The lookups kept with their data version (a search's word order, a place's scope, a
first page's total): the least recently used go first beyond their number."""

from app.services.versioned_memo import VersionedMemo


def test_a_value_is_kept_with_the_version_it_was_read_at() -> None:
    memo = VersionedMemo[str, str](size=2)
    memo.put("a", 7, "first")
    assert memo.get("a") == (7, "first")
    memo.put("a", 8, "second")  # read again at a newer version: it replaces the first
    assert (memo.get("a"), len(memo)) == ((8, "second"), 1)
    assert memo.get("b") is None


def test_beyond_its_size_the_least_recently_used_go_first() -> None:
    """Holds `size` values, not one fewer; one read or put again is the most recently
    used, so the one before it goes."""
    memo = VersionedMemo[str, int](size=3)
    for n, key in enumerate("abc"):
        memo.put(key, 1, n)
    assert len(memo) == 3
    assert memo.get("a") is not None  # "b" is now the least recently used
    memo.put("d", 1, 3)
    assert [k for k in "abcd" if memo.get(k) is not None] == ["a", "c", "d"]
    # Read in turn just now, "a" is the least recently used again; put again, it is the
    # most recently used, and "c" goes.
    memo.put("a", 2, 0)
    memo.put("e", 1, 4)
    assert [k for k in "acde" if memo.get(k) is not None] == ["a", "d", "e"]


def test_a_dropped_value_is_read_again() -> None:
    """A search's word order counted before a write is dropped (app.services.localities):
    the next search counts it again rather than take the stale order."""
    memo = VersionedMemo[str, str](size=2)
    memo.put("a", 1, "order")
    memo.put("b", 1, "other")
    memo.drop("a")
    memo.drop("absent")  # nothing to drop: no error
    assert (memo.get("a"), memo.get("b"), len(memo)) == (None, (1, "other"), 1)
