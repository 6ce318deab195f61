"""Whole CSV lines written by the database, for exports of millions of rows.

Streaming every membership count as CSV (2.7 million rows at national scale) ran at
~50,000 rows a second, most of it in Python: the database computed a row's cells and
Python's csv writer quoted and joined them, ~7 µs a row for the writer alone. Here the
database writes the CSV instead, exactly as that writer does (app.formats.csv_cells:
csv.writer's default dialect, CRLF line ends): a field holding a comma, a double quote,
CR or LF goes in double quotes with its own double quotes doubled, anything else as it
is, NULL as nothing; a lone empty field is written "". Python only joins the lines.

On PostgreSQL, COPY (...) TO STDOUT (FORMAT csv) quotes every field in C
(app.services.line_pages.copy_lines; `copy_cells` here). Elsewhere, and for SQLite, the
SELECT writes each row's `line`, and testing a field for those four characters is most
of its cost (a function call per test, row and field): cells that can never hold them
(numbers, days, booleans, constant words: app.services.json_sql.Cell.plain) skip it, and
NULL skips the tests. SQLite builds the line with one printf (a chain of `||` cost ~3
µs a row more) and tests with GLOB '*,*' and the like, which it runs with strcspn: both
measured faster than one pattern per field (GLOB '*[",\r\n]*'). But printf and GLOB read
text up to its first NUL character, which SQLite can store: a row holding one is
written with `||`, instr and replace, which read whole values.

PostgreSQL writes days in their text form, which follows the session's DateStyle: the
app's connections start in ISO (app.db), and a read inside a transaction that may have
set another runs ISO_DAYS first (to_char, which does not depend on it, cost ~1.5 µs a
row for three days).
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    text,
)
from sqlalchemy.sql import operators

from app.services.json_sql import Cell, JsonSql, Obj

# Days as YYYY-MM-DD (as in JSON) in PostgreSQL's text form, until the transaction ends.
ISO_DAYS = text("SET LOCAL DateStyle TO ISO")
# Characters that make a field quoted (csv.QUOTE_MINIMAL with lineterminator "\r\n").
QUOTED_IF_ANY = (",", '"', "\r", "\n")
# Below both databases' limits on a function's arguments (SQLite 127, PostgreSQL 100).
_ARGS_PER_CALL = 100


class CsvSql:
    """CSV lines in one SQL dialect."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.json = JsonSql(dialect)

    def line(self, shape: Obj, paths: Sequence[str]) -> ColumnElement[Any]:
        """The CSV line of these dotted paths of `shape`, CRLF included: UTF-8 bytes from
        SQLite (a blob, which Python neither decodes nor encodes again), text from
        PostgreSQL."""
        cells = [self.json.cell(shape, path) for path in paths]
        if not self.sqlite:
            return self._concat_line(cells)
        line = self._printf_line(cells)
        texts = [cell.value for cell in cells if not cell.plain]
        if texts:
            # A row with a NUL in its text is written with || and instr, which read whole
            # values: ~1 µs a row more, so only there.
            nul = or_(*(and_(t.is_not(None), func.instr(t, func.char(0)) > 0) for t in texts))
            line = case((nul, self._concatenated_line(cells)), else_=line)
        return cast(line, LargeBinary)

    def copy_cells(self, shape: Obj, paths: Sequence[str]) -> list[ColumnElement[Any]]:
        """The cells of these paths for PostgreSQL's COPY ... TO STDOUT (FORMAT csv), which
        quotes fields in C as csv.writer does, but for one thing: it writes an empty
        string as "" (the empty field is its NULL). So empty text is made NULL."""
        cells = []
        for path in paths:
            cell = self.json.cell(shape, path)
            value = cell.value if cell.plain else func.nullif(cell.value, _sql_text(""))
            cells.append(cell.guarded(value))
        return cells

    def _printf_line(self, cells: list[Cell]) -> ColumnElement[Any]:
        """SQLite: one printf for the line (%s writes NULL as nothing)."""
        fields = _fields(cells, _glob_quoted)
        calls = []
        for start in range(0, len(fields), _ARGS_PER_CALL - 1):
            group = fields[start : start + _ARGS_PER_CALL - 1]
            last = start + len(group) == len(fields)
            fmt = ",".join(["%s"] * len(group)) + ("\r\n" if last else ",")
            calls.append(func.printf(_sql_text(fmt), *group))
        return _concatenated(calls)

    def _concatenated_line(self, cells: list[Cell]) -> ColumnElement[Any]:
        """SQLite, for text holding NUL: the fields joined with ||."""
        fields = [func.ifnull(f, _sql_text("")) for f in _fields(cells, _instr_quoted)]
        parts: list[ColumnElement[Any]] = []
        for field in fields:
            parts += [field, _sql_text(",")]
        parts[-1] = _sql_text("\r\n")
        return _concatenated(parts)

    def _concat_line(self, cells: list[Cell]) -> ColumnElement[Any]:
        """PostgreSQL: concat, which writes NULL as nothing."""
        args: list[ColumnElement[Any]] = []
        for field in _fields(cells, _strpos_quoted):
            args += [field, _sql_text(",")]
        args[-1] = _sql_text("\r\n")
        calls = [
            func.concat(*args[start : start + _ARGS_PER_CALL])
            for start in range(0, len(args), _ARGS_PER_CALL)
        ]
        return _concatenated(calls)


Quoting = Callable[[ColumnElement[Any]], ColumnElement[Any]]


def _fields(cells: list[Cell], quoted: Quoting) -> list[ColumnElement[Any]]:
    fields = [cell.guarded(cell.value if cell.plain else quoted(cell.value)) for cell in cells]
    if len(fields) == 1:
        # csv.writer writes a row of one empty field as "" (else it would be a blank line).
        lone = cast(fields[0], String)
        empty = or_(lone.is_(None), lone == _sql_text(""))
        fields = [case((empty, _sql_text('""')), else_=lone)]
    return fields


# Each quoting tests NULL first: it would otherwise go through all four tests (NULL OR
# NULL ...), and notes, date notes and figures are mostly null.


def _glob_quoted(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQLite, text without NUL: GLOB runs '*,*' with strcspn; printf's %w doubles quotes."""
    glob = [value.op("GLOB", is_comparison=True)(_sql_text(f"*{c}*")) for c in QUOTED_IF_ANY]
    quoted = func.printf(_sql_text('"%w"'), value)
    return case((value.is_(None), null()), (or_(*glob), quoted), else_=value)


def _instr_quoted(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQLite, text that may hold NUL: instr and replace read the whole value."""
    special = or_(*(func.instr(value, _sql_text(c)) > 0 for c in QUOTED_IF_ANY))
    return case((value.is_(None), null()), (special, _enclosed(value)), else_=value)


def _strpos_quoted(value: ColumnElement[Any]) -> ColumnElement[Any]:
    special = or_(*(func.strpos(value, _sql_text(c)) > 0 for c in QUOTED_IF_ANY))
    return case((value.is_(None), null()), (special, _enclosed(value)), else_=value)


def _enclosed(value: ColumnElement[Any]) -> ColumnElement[Any]:
    doubled = func.replace(value, _sql_text('"'), _sql_text('""'))
    return _concatenated([_sql_text('"'), doubled, _sql_text('"')])


def _concatenated(parts: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """The parts joined with ||, unparenthesized: a custom operator nested each join in
    parentheses, and SQLite's parser overflowed its stack on a branch's 37 fields."""
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.operate(operators.concat_op, part)
    return joined


def _sql_text(text: str) -> ColumnElement[str]:
    """A string constant written into the SQL (a parameter's type would be unknown to
    PostgreSQL in concat; constants also let both planners fold it)."""
    return literal_column("'" + text.replace("'", "''") + "'", String)
