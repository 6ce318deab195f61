"""Answers kept until the data changes.

A province's stats at national scale are 176 KB of JSON that took 4 ms a request on
SQLite and 10 on PostgreSQL to build (issue 7); a branch's detail, one statement whose
figures PostgreSQL renders as JSON, cost it about 1 ms of its own work. Both are the same
bytes until some write changes the data, and their readers are uneven: the branches at
risk, a province in the news, a branch a story links to. A list's page (JSON, CSV or
NDJSON) is kept the same way (app.api.responses): the first page at risk and a province's
first page are what every front end asks first, 50 items and their count read and
rendered again for each. Each answer is kept with the data version it was built from
(`data_version`, raised by triggers in every writing transaction: migration 0008), and
served again while the version is unchanged: one read of one row instead of the build.

The version is read before the answer is built. A write that commits in between makes the
answer newer than its version says, never older: the next request sees a newer version
and builds it again. Every writer is seen, other server processes and SQL typed by hand
included, because the database itself raises the version. On PostgreSQL the version is
known without reading it, announced by the database (app.services.version_watch): a
kept answer is then served with no database work at all, on the event loop.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from threading import Lock
from typing import Any

from app.compression import gzip_body
from app.reader import Reader
from app.services.data_version import data_version
from app.services.json_sql import encode_json, etag_of
from app.services.version_watch import VersionWatch


@dataclass(frozen=True)
class Answer:
    """An answer as it is sent, with its strong ETag and any headers of its own (a list
    page's Link to the next): JSON, or a list's CSV or NDJSON page."""

    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...] = ()
    media_type: str = "application/json"

    @cached_property
    def gzipped(self) -> bytes:
        """The body in gzip, made when a client first asks for it and kept with the
        answer: a kept page is compressed once, not on each request. A province's first
        page at scale 1.0 (77 KB; 3.2 KB in gzip), asked in gzip as browsers ask, was
        774-906 requests a second compressed on each; 1,546-1,712 kept compressed.
        Two threads asking at once may both compress it; one copy stays."""
        return gzip_body(self.body)

    @classmethod
    def of(cls, data: Any, headers: Mapping[str, str] | None = None) -> "Answer":
        body = encode_json(data)
        return cls(body, etag_of(body), tuple((headers or {}).items()))


class AnswerCache:
    """Answers by key with the data version of each; beyond `max_bytes` of bodies, the
    least recently used go first. Locked: PostgreSQL's reads run on several threads.
    A body's gzip copy, kept once asked for, is not counted: at most about the body's own
    size, and far less for a list's page (3.2 KB beside 77 KB)."""

    def __init__(self, max_bytes: int, versions: VersionWatch | None = None) -> None:
        self.max_bytes = max_bytes
        self.versions = versions
        self._kept: OrderedDict[Hashable, tuple[int, Answer]] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: Hashable, version: int) -> Answer | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != version:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def put(self, key: Hashable, version: int, answer: Answer) -> None:
        size = len(answer.body)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1].body)
            self._kept[key] = (version, answer)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= len(dropped.body)

    @property
    def keeps(self) -> bool:
        """False when set to keep nothing (ANSWER_CACHE_MB=0)."""
        return self.max_bytes > 0

    @property
    def knows_version(self) -> bool:
        """Whether a kept answer can be served without the database now."""
        return self.keeps and self.versions is not None and self.versions.known is not None

    def version(self, reader: Reader) -> int | None:
        """The data version now: as announced when it is known, else read."""
        if self.versions is None:
            return data_version(reader)
        return self.versions.current(reader)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._kept)


def kept_answer(
    reader: Reader, cache: AnswerCache, key: Hashable, build: Callable[[], Any]
) -> Answer:
    """The answer under `key` as of the data's version now: kept, or built and kept."""
    return kept(reader, cache, key, lambda: Answer.of(build()))


def kept(reader: Reader, cache: AnswerCache, key: Hashable, make: Callable[[], Answer]) -> Answer:
    """kept_answer for an answer made whole by the caller (with headers of its own)."""
    if not cache.keeps:
        return make()  # without the version's round trip
    version = cache.version(reader)
    if version is None:
        return make()
    answer = cache.get(key, version)
    if answer is None:
        answer = make()
        cache.put(key, version, answer)
    return answer
