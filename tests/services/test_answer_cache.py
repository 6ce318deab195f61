"""The kept answers: served while their data version holds, least recently used dropped."""

import gzip
from typing import cast

from app.services.answer_cache import Answer, AnswerCache
from app.services.version_watch import VersionWatch


def answer(size: int, fill: bytes = b"x") -> Answer:
    return Answer(fill * size, f'"{size}"')


def test_an_answer_is_served_only_at_the_version_it_was_built_from() -> None:
    cache = AnswerCache(max_bytes=1000)
    kept = answer(10)
    cache.put("a", 7, kept)
    assert cache.get("a", 7) is kept
    assert cache.get("a", 8) is None
    assert cache.get("b", 7) is None


def test_a_newer_answer_replaces_the_older_and_its_bytes() -> None:
    cache = AnswerCache(max_bytes=1000)
    cache.put("a", 1, answer(300))
    newer = answer(200, b"y")
    cache.put("a", 2, newer)
    assert cache.get("a", 1) is None
    assert cache.get("a", 2) is newer
    assert (len(cache), cache.size_bytes) == (1, 200)


def test_beyond_its_bytes_the_least_recently_used_go_first() -> None:
    cache = AnswerCache(max_bytes=1000)
    for key in "abc":
        cache.put(key, 1, answer(300))
    assert cache.get("a", 1) is not None  # "b" is now the least recently used
    cache.put("d", 1, answer(300))
    assert [k for k in "abcd" if cache.get(k, 1) is not None] == ["a", "c", "d"]
    assert cache.size_bytes == 900


def test_an_answer_put_again_is_the_most_recently_used() -> None:
    """A newer answer under a key is its most recent use: the key put again before it is
    not the first to go when the bytes run out."""
    cache = AnswerCache(max_bytes=1000)
    for key in "abc":
        cache.put(key, 1, answer(300))
    cache.put("a", 2, answer(300, b"y"))  # "b" is now the least recently used
    cache.put("d", 1, answer(300))
    assert cache.get("a", 2) is not None and cache.get("b", 1) is None
    assert (len(cache), cache.size_bytes) == (3, 900)


def test_the_cache_holds_its_bytes_exactly() -> None:
    """`max_bytes` is what may be kept, not a bound kept below: answers that fill it all
    stay, and one answer of that whole size is kept."""
    cache = AnswerCache(max_bytes=900)
    for key in "abc":
        cache.put(key, 1, answer(300))
    assert [k for k in "abc" if cache.get(k, 1) is not None] == ["a", "b", "c"]
    assert cache.size_bytes == 900
    whole = answer(900, b"w")
    cache.put("whole", 1, whole)
    assert cache.get("whole", 1) is whole
    assert (len(cache), cache.size_bytes) == (1, 900)


def test_an_answer_larger_than_the_cache_is_not_kept() -> None:
    cache = AnswerCache(max_bytes=100)
    cache.put("small", 1, answer(60))
    cache.put("large", 1, answer(101))
    assert cache.get("large", 1) is None
    assert cache.get("small", 1) is not None


def test_a_cache_of_no_bytes_keeps_nothing() -> None:
    cache = AnswerCache(max_bytes=0)
    cache.put("a", 1, answer(1))
    assert (len(cache), cache.get("a", 1)) == (0, None)


class _Announced:
    """A version PostgreSQL announced (app.services.version_watch), as the cache sees it."""

    known = 42


def test_a_cache_of_no_bytes_never_serves_without_the_database() -> None:
    """The version known without reading it lets a kept answer be served on the event
    loop (app.api.query_route); with nothing kept there is none to serve, and every
    read goes to a thread."""
    versions = cast(VersionWatch, _Announced())
    assert AnswerCache(max_bytes=1000, versions=versions).knows_version
    assert not AnswerCache(max_bytes=0, versions=versions).knows_version
    assert not AnswerCache(max_bytes=1000).knows_version


def test_the_etag_is_the_digest_of_the_encoded_body() -> None:
    first, second, other = Answer.of({"a": 1}), Answer.of({"a": 1}), Answer.of({"a": 2})
    assert first.body == b'{"a":1}'
    assert first.etag == second.etag != other.etag


def test_the_gzip_copy_is_the_body_compressed_and_made_once() -> None:
    kept = answer(5000, b"branch,")
    assert gzip.decompress(kept.gzipped) == kept.body
    assert len(kept.gzipped) < len(kept.body) / 10
    assert kept.gzipped is kept.gzipped
