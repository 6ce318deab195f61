"""A place's yearly stats as a table (CSV): each sum beside each figure it adds up.

A newsroom's spreadsheet wants the yearly sums and the sentences behind them in one
sheet. A row is one figure of one sum: the sum's columns (`sum_`) repeat beside each of
its figures (`record_`), as many as `records` asks for (`sum_records_total` says how
many the sum adds up); a sum shown without its figures (records=0) is one row with empty
record columns. A measure no figure reports in a year has no row: not reported, not
zero. Each row names the place, with the ids of the units its sums cover (`place_covers`:
itself and the units it replaced). The figures no year holds follow, with empty sum
columns: counts without a day (`undated_counts`) and events over more than one year
(`not_in_a_single_year`).
"""

from collections.abc import Iterator
from typing import Any

from app.formats import csv_lines
from app.reader import Reader
from app.services.answer_cache import Answer, AnswerCache, kept
from app.services.figures import FIGURE_OWNER_CSV, FIGURE_PROVENANCE_CSV, record_path
from app.services.json_sql import as_plain, etag_of
from app.services.stats import locality_stats

MEASURES = ("members", "admissions", "departures", "transfers_in", "transfers_out")
# An event's kind, as the yearly measure it would add to.
MEASURE_OF_KIND = {
    "admission": "admissions",
    "departure": "departures",
    "transfer_in": "transfers_in",
    "transfer_out": "transfers_out",
}
# A figure's columns as /membership-counts' and /admissions' CSV name them (a count has
# no kind nor period, an event no status nor as_of), then its own URL path.
RECORD_FIELDS = [
    "id",
    "key",
    "kind",
    *FIGURE_OWNER_CSV,
    "value",
    "value_max",
    "status",
    "as_of",
    "period_start",
    "period_end",
    "reason",
    *FIGURE_PROVENANCE_CSV,
    "synthetic",
    "path",
]
STATS_CSV = [
    "place.id",
    "place.key",
    "place.kind",
    "place.name",
    "place.official_name",
    "place.code",
    "place.covers",
    "section",
    "year",
    "measure",
    "sum.low",
    "sum.high",
    "sum.records_total",
    "sum.approximate_records",
    *(f"record.{field}" for field in RECORD_FIELDS),
]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def stats_csv_answer(
    reader: Reader, answers: AnswerCache, locality_id: int, records: int, bom: bool
) -> Answer:
    """locality_stats as CSV (stats_rows), kept until the data changes."""

    def make() -> Answer:
        stats = locality_stats(reader, locality_id, records)
        body = "".join(csv_lines(stats_rows(stats), STATS_CSV, bom=bom)).encode()
        disposition = f'attachment; filename="locality-{locality_id}-stats.csv"'
        return Answer(body, etag_of(body), (("Content-Disposition", disposition),), CSV_MEDIA_TYPE)

    return kept(reader, answers, ("stats.csv", locality_id, records, bom), make)


def stats_rows(stats: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of STATS_CSV: each year's sums with their figures, then the figures no
    year holds."""
    # The units a merged place's sums add up, as the JSON's `covers`.
    place = {**stats["locality"], "covers": stats["covers"]}
    for entry in stats["years"]:
        for measure in MEASURES:
            summed = entry[measure]
            if summed is None:
                continue
            for record in summed["records"] or [None]:
                yield {
                    "place": place,
                    "section": "year",
                    "year": entry["year"],
                    "measure": measure,
                    "sum": summed,
                    "record": _with_path(record),
                }
    for record in stats["undated_counts"]:
        yield {"place": place, "section": "undated_counts", "measure": "members",
               "record": _with_path(record)}  # fmt: skip
    for record in stats["not_in_a_single_year"]:
        event = _with_path(record)
        yield {"place": place, "section": "not_in_a_single_year",
               "measure": MEASURE_OF_KIND[event["kind"]], "record": event}  # fmt: skip


def _with_path(record: Any) -> dict[str, Any]:
    """A figure's document as plain values, with its own URL path; {} for none."""
    if record is None:
        return {}
    plain: dict[str, Any] = as_plain(record)
    return {**plain, "path": record_path(plain)}
