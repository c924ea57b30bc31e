"""Metric parsing: a pure function of log lines and the request's MetricDefinitions.

AMT applies every ``Regex`` to every line the algorithm writes; the first capture group (or
the whole match when the regex has no group) is the value. The final value of a metric is the
latest one emitted. Values that do not parse as finite numbers are skipped (and counted), so a
garbage or NaN print never becomes an objective.

Bounded in time and memory, whatever the training script prints or the request's regexes are:

* **Regexes that backtrack exponentially** (a quantifier nested in an unbounded quantifier, such as
  ``(\\d+\\.)+``; a quantified alternation whose branches can start with the same character, such as
  ``(a|ab)*``) are refused: ``regex_problem`` names the construct and the fix. It is meant for
  request time; ``parse_metrics`` applies it again and gives such a metric no values and an
  ``error``.
* **Polynomial backtracking** (``.*a.*b`` on a long line needs ~L^3 steps) is bounded per line:
  each regex gets a line-length cap from a worst-case cost model (``line_cap``), so one line
  costs at most ~``STEP_BUDGET`` regex steps (~0.3 s at worst) per regex.
* **Long lines**: a message is split at carriage returns (progress bars rewrite one terminal line;
  the last segment is what a user saw) and each segment is cut to the regex's cap.
* **Many lines**: lines are consumed as a stream (never materialised) and at most ``MAX_LINES``
  lines or ``MAX_SECONDS`` of wall time are spent on one training job; past either budget parsing
  stops and every series carries ``error`` (a FailureReason-ready sentence) and no ``final``.
* **Memory**: each series keeps a bounded sample (at most ``2 * MAX_SERIES`` points, evenly
  thinned while streaming, plus the latest value), however many values a job prints.

**Incremental parsing** (``resume_metrics``): the same rule over a job's lines delivered in pieces
(the monitor reads only the lines a sweep has not seen). A ``ParseState`` carries what a piece
leaves behind (each metric's sample and counts, the lines and seconds spent: the per-job budgets
run over all pieces) and is JSON-ready; feeding the pieces in order gives exactly the series one
``parse_metrics`` call over all the lines gives. A piece may also be *paused* (``pause_lines``,
``pause_seconds``): checked before a line is taken, so every line taken is matched and the
caller's position after the last line it handed over is exact.
"""
from __future__ import annotations

import importlib
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_LINE_CHARS = 16_384  # longest line segment ever matched (cut before matching)
MAX_SERIES = 1_000  # intermediate points stored per metric (oldest are thinned)
MAX_LINES = 1_000_000  # log lines read per training job
MAX_SECONDS = 120.0  # wall time spent per training job (reading + matching); Lambda timeout is 300 s
STEP_BUDGET = 2e8  # worst-case regex steps (cost model below) allowed for one line segment

# The parser behind ``re``: private modules that typeshed has no stubs for, so loaded by name and
# typed Any (CPython 3.11+: ``re._parser``; ``sre_parse`` before).
_sre: Any
_sre_parse: Any
try:
    _sre = importlib.import_module("re._constants")
    _sre_parse = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - older interpreters
    _sre = importlib.import_module("sre_constants")
    _sre_parse = importlib.import_module("sre_parse")

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
_UNBOUNDED = _sre.MAXREPEAT


# ---- results -----------------------------------------------------------------------------------
@dataclass
class MetricSeries:
    """Parsed values of one metric, in emission order.

    ``values`` is a bounded, evenly thinned sample that always ends with the latest value;
    ``count`` is how many values were emitted in all; ``rejected`` how many matches were not finite
    numbers; ``truncated`` how many line segments were cut to the regex's cap before matching.
    ``error`` says why the series cannot be trusted (a refused regex, a budget exceeded); then
    ``final`` is None.
    """

    values: list[float] = field(default_factory=list)
    rejected: int = 0
    count: int = 0
    truncated: int = 0
    error: str | None = None

    @property
    def final(self) -> float | None:
        if self.error is not None or not self.values:
            return None
        return self.values[-1]


class _Sample:
    """A streaming, evenly spaced sample of at most ``2 * limit`` points plus the latest one."""

    __slots__ = ("limit", "kept", "stride", "seen", "last")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.kept: list[float] = []
        self.stride = 1
        self.seen = 0
        self.last: float | None = None

    def add(self, x: float) -> None:
        if self.seen % self.stride == 0:
            self.kept.append(x)
            if len(self.kept) >= 2 * self.limit:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1
        self.last = x

    def values(self) -> list[float]:
        if self.last is not None and (self.seen - 1) % self.stride != 0:  # last is set once seen > 0
            return [*self.kept, self.last]
        return list(self.kept)

    def state(self) -> dict[str, Any]:
        return {"kept": list(self.kept), "stride": self.stride, "seen": self.seen, "last": self.last}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.kept = [float(x) for x in state.get("kept", [])]
        self.stride = int(state.get("stride", 1))
        self.seen = int(state.get("seen", 0))
        last = state.get("last")
        self.last = None if last is None else float(last)


@dataclass
class ParseState:
    """Where an incremental parse of one training job's lines stands (``resume_metrics``).

    ``lines``: lines taken so far; ``seconds``: parsing time spent so far (both count against the
    per-job budgets); ``error``: the budget that was exceeded (final: nothing more is read);
    ``metrics``: per metric name, its sample (``kept``, ``stride``, ``seen``, ``last``) and its
    ``rejected`` and ``truncated`` counts. ``to_dict``/``from_dict`` give and take plain JSON.
    """

    lines: int = 0
    seconds: float = 0.0
    error: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "seconds": round(self.seconds, 6), "error": self.error,
                "metrics": {k: dict(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ParseState:
        data = data or {}
        return cls(int(data.get("lines", 0)), float(data.get("seconds", 0.0)), data.get("error"),
                   {str(k): dict(v) for k, v in (data.get("metrics") or {}).items()})


@dataclass
class Resumed:
    """What one ``resume_metrics`` call gives: the series so far (as ``parse_metrics`` would give
    them for every line taken so far), the state to resume from, the lines this call took, and why
    it paused before its lines ended (None: they ended, or a per-job budget ended the parse)."""

    series: dict[str, MetricSeries]
    state: ParseState
    taken: int
    paused: str | None


# ---- static analysis of a regex ------------------------------------------------------------------
def _parse(regex: str) -> Any:
    return _sre_parse.parse(regex)


def _items(node: Any) -> list[tuple[Any, Any]]:
    return list(node.data) if hasattr(node, "data") else list(node)


def _children(op: Any, av: Any) -> list[Any]:
    """Sub-patterns of one parsed item (possessive/atomic parts excluded: they never backtrack)."""
    if op in _REPEATS:
        return [av[2]]
    if op is _sre.SUBPATTERN:
        return [av[3]]
    if op is _sre.BRANCH:
        return list(av[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op is _sre.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _can_fail(op: Any, av: Any) -> bool:
    """Whether one parsed item can fail to match (so that what precedes it may backtrack)."""
    if op in _REPEATS or op in (_sre.POSSESSIVE_REPEAT,):
        return av[0] >= 1 and _seq_can_fail(av[2])
    if op is _sre.SUBPATTERN:
        return _seq_can_fail(av[3])
    if op is _sre.ATOMIC_GROUP:
        return _seq_can_fail(av)
    if op is _sre.BRANCH:
        return all(_seq_can_fail(b) for b in av[1])
    if op is _sre.GROUPREF_EXISTS:
        return True
    return True  # a literal, a class, an anchor, an assertion, a back-reference


def _seq_can_fail(seq: Any) -> bool:
    return any(_can_fail(op, av) for op, av in _items(seq))


def _backtracking_spans(seq: Any, fail_after: bool = False) -> list[float]:
    """Choice counts (max - min + 1, inf when unbounded) of the repeats that can backtrack.

    A repeat backtracks only when something after it can fail; a trailing ``[0-9.]+`` or an
    optional tail never makes the engine try its other lengths.
    """
    out: list[float] = []
    for op, av in reversed(_items(seq)):
        if op in _REPEATS:
            lo, hi = av[0], av[1]
            if fail_after and hi != lo:
                out.append(math.inf if hi == _UNBOUNDED else float(hi - lo + 1))
            out.extend(_backtracking_spans(av[2], fail_after or hi > 1))
        else:
            for child in _children(op, av):
                out.extend(_backtracking_spans(child, fail_after))
        fail_after = fail_after or _can_fail(op, av)
    return out


_PROBE = [chr(c) for c in range(32, 127)] + ["\t", "\u00e9", "\u0661"]


def _any_char(ch: str) -> bool:
    return True


_CATEGORY_TESTS: dict[Any, Callable[[str], bool]] = {
    _sre.CATEGORY_DIGIT: lambda ch: bool(re.match(r"\d", ch)),
    _sre.CATEGORY_NOT_DIGIT: lambda ch: not re.match(r"\d", ch),
    _sre.CATEGORY_SPACE: lambda ch: ch.isspace(),
    _sre.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    _sre.CATEGORY_WORD: lambda ch: bool(re.match(r"\w", ch)),
    _sre.CATEGORY_NOT_WORD: lambda ch: not re.match(r"\w", ch),
}


def _first_chars(seq: Any) -> set[str] | None:
    """Probe characters a sequence can start with; None when it can match the empty string or
    starts with something this approximation does not follow (treated as 'anything')."""
    items = _items(seq)
    if not items:
        return None
    op, av = items[0]
    if op is _sre.LITERAL:
        return {chr(av)}
    if op is _sre.NOT_LITERAL:
        return {ch for ch in _PROBE if ord(ch) != av}
    if op is _sre.ANY:
        return set(_PROBE) - {"\n"}
    if op is _sre.IN:
        negate = any(o is _sre.NEGATE for o, _ in av)
        hit: set[str] = set()
        for ch in _PROBE:
            ok = False
            for o, a in av:
                if o is _sre.LITERAL and ord(ch) == a:
                    ok = True
                elif o is _sre.RANGE and a[0] <= ord(ch) <= a[1]:
                    ok = True
                elif o is _sre.CATEGORY and _CATEGORY_TESTS.get(a, _any_char)(ch):
                    ok = True
            if ok != negate:
                hit.add(ch)
        return hit
    if op is _sre.SUBPATTERN:
        return _first_chars(av[3])
    if op in _REPEATS and av[0] >= 1:
        return _first_chars(av[2])
    return None


def _overlapping_branches(branches: Sequence[Any]) -> bool:
    firsts = [_first_chars(b) for b in branches]
    for i, a in enumerate(firsts):
        for b in firsts[i + 1 :]:
            if a is None or b is None or a & b:
                return True
    return False


def _problem(node: Any, inside_repeat: tuple[int, int] | None) -> str | None:
    for op, av in _items(node):
        if op in _REPEATS:
            lo, hi = av[0], av[1]
            if inside_repeat is not None and hi != lo:
                outer_lo, outer_hi = inside_repeat
                if hi == _UNBOUNDED or outer_hi == _UNBOUNDED:
                    return (
                        "a quantifier nested inside another quantifier (like (\\d+\\.)+ or (a*)*) can "
                        "backtrack exponentially; quantify the inner part only once or make the group "
                        "possessive/atomic, e.g. ([0-9.]+)"
                    )
            child_ctx = (lo, hi) if hi > 1 else inside_repeat
            found = _problem(av[2], child_ctx)
            if found:
                return found
            continue
        if op is _sre.BRANCH and inside_repeat is not None and inside_repeat[1] > 1:
            if _overlapping_branches(av[1]):
                return (
                    "a repeated alternation whose branches can match the same text (like (a|a)+ or "
                    "(x|xy)*) can backtrack exponentially; make the branches start differently or use one "
                    "character class, e.g. [0-9.]+"
                )
        for child in _children(op, av):
            found = _problem(child, inside_repeat)
            if found:
                return found
    return None


def regex_problem(regex: str) -> str | None:
    """Why ``regex`` is unsafe to run over untrusted log lines, or None when it is fine.

    Refuses the constructs that backtrack exponentially; polynomial ones are bounded by
    ``line_cap``. A regex that does not compile is reported too.
    """
    try:
        parsed = _parse(regex)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"it does not compile ({exc})"
    try:
        return _problem(parsed, None)
    except RecursionError:
        return "it is nested too deeply; simplify it"


def line_cap(regex: str, budget: float = STEP_BUDGET, limit: int = MAX_LINE_CHARS) -> int:
    """The longest line segment ``regex`` is applied to.

    Worst case of a backtracking search over a line of L characters: L start positions times,
    for each repeat that can backtrack (something after it can fail), min(L, max - min + 1)
    lengths to try. The cap is the largest L (at most ``limit``) whose cost stays within
    ``budget``: 16,384 for ``loss: ([0-9.]+)``, 14,142 for ``.*loss=(.*)``, 584 for
    ``.*a.*(b)``, 118 for ``.*a.*b.*(c)`` (each about 0.3 s at worst on one core).
    """
    try:
        spans = _backtracking_spans(_parse(regex))
    except (re.error, RecursionError, OverflowError):
        return 0

    def cost(n: int) -> float:
        total = float(n)
        for s in spans:
            total *= min(n, s)
            if total > budget:
                return total
        return total

    if cost(limit) <= budget:
        return limit
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def compile_definitions(definitions: Sequence[Mapping[str, str]]) -> list[tuple[str, re.Pattern[str]]]:
    return [(d["Name"], re.compile(d["Regex"])) for d in definitions]


# ---- parsing -------------------------------------------------------------------------------------
def _value(match: re.Match[str]) -> float | None:
    text = match.group(1) if match.re.groups else match.group(0)
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclass
class _Metric:
    name: str
    regex: str
    pattern: re.Pattern[str] | None
    cap: int
    sample: _Sample
    rejected: int = 0
    truncated: int = 0
    error: str | None = None

    def series(self, budget_error: str | None) -> MetricSeries:
        """The result: this metric's own ``error`` (a refused regex) wins over ``budget_error``."""
        return MetricSeries(
            values=self.sample.values(),
            rejected=self.rejected,
            count=self.sample.seen,
            truncated=self.truncated,
            error=self.error or budget_error,
        )


def _prepare(definitions: Sequence[Mapping[str, str]], series_limit: int) -> list[_Metric]:
    """One ``_Metric`` per definition. A regex that ``regex_problem`` refuses is never compiled
    (the metric gets an ``error`` instead); the others get their ``line_cap``."""
    out = []
    for d in definitions:
        name, regex = d["Name"], d["Regex"]
        problem = regex_problem(regex)
        metric = _Metric(name, regex, None, 0, _Sample(series_limit))
        if problem:
            metric.error = f"MetricDefinitions {name!r}: the Regex {regex!r} is refused: {problem}"
        else:
            metric.pattern = re.compile(regex)
            metric.cap = line_cap(regex)
        out.append(metric)
    return out


def _over_budget(
    n: int, start: float, clock: Callable[[], float], max_lines: int, max_seconds: float
) -> str | None:
    """Why reading must stop before matching the ``n``-th line (1-based), or None to go on.

    The per-job bounds: at most ``max_lines`` lines, and at most ``max_seconds`` of ``clock`` time
    since ``start`` (the clock is read only while the line budget holds). The reason is a
    FailureReason-ready sentence.
    """
    if n > max_lines:
        return (
            f"the training job wrote more than {max_lines:,} log lines; the tuner reads at most "
            f"{max_lines:,} per job: log metrics less often (e.g. once per epoch) or write the "
            "rest to a file"
        )
    if clock() - start > max_seconds:
        return (
            f"reading the metrics took more than {max_seconds:g} s after {n:,} log lines; "
            "log less, or simplify the MetricDefinitions regexes (anchor them on a literal "
            "prefix, avoid .*)"
        )
    return None


def _match_segment(metric: _Metric, pattern: re.Pattern[str], segment: str) -> None:
    """Add every value ``pattern`` finds in one line segment to ``metric``.

    The per-line bound: the segment is cut to the metric's ``line_cap`` before matching (and
    counted in ``truncated``); matches that are not finite numbers are counted in ``rejected``.
    """
    if len(segment) > metric.cap:
        segment = segment[: metric.cap]
        metric.truncated += 1
    for match in pattern.finditer(segment):
        x = _value(match)
        if x is None:
            metric.rejected += 1
        else:
            metric.sample.add(x)


_END = object()  # what ``next`` gives for lines that ended


def _read(
    lines: Iterator[str],
    metrics: Sequence[_Metric],
    taken: int,
    start: float,
    clock: Callable[[], float],
    max_lines: int,
    max_seconds: float,
    pause: Callable[[int], str | None] | None = None,
) -> tuple[int, str | None, str | None]:
    """Match ``lines`` until they end, a budget of ``_over_budget`` is exceeded, or ``pause`` says
    why to stop; returns ``(lines taken in all, budget error, pause reason)``.

    ``taken``: lines taken by earlier pieces (the line budget counts from there); ``start``: the
    ``clock`` time from which ``max_seconds`` counts. ``pause`` is asked, with the lines taken by
    this call, before each line is taken (a paused read leaves every line it took matched). A
    message is split at carriage returns (each segment is matched on its own); metrics whose regex
    was refused are skipped, and with none left the lines are only counted.
    """
    active = [(m, m.pattern) for m in metrics if m.pattern is not None]
    n = taken
    while True:
        why = pause(n - taken) if pause is not None else None
        if why is not None:
            return n, None, why
        message = next(lines, _END)
        if message is _END:
            return n, None, None
        n += 1
        budget_error = _over_budget(n, start, clock, max_lines, max_seconds)
        if budget_error is not None:
            return n, budget_error, None
        if not active:
            continue
        text = message if isinstance(message, str) else str(message)
        for segment in text.split("\r") if "\r" in text else (text,):
            for m, pattern in active:
                _match_segment(m, pattern, segment)


def parse_metrics(
    lines: Iterable[str],
    definitions: Sequence[Mapping[str, str]],
    *,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    series_limit: int = MAX_SERIES,
) -> dict[str, MetricSeries]:
    """Apply every definition to every line; returns one series per metric name.

    ``lines`` is consumed lazily and closed early when a budget is exceeded. Never raises for
    what the logs or the regexes contain: problems end up in ``MetricSeries.error``.
    """
    return resume_metrics(lines, definitions, None, max_lines=max_lines, max_seconds=max_seconds,
                          clock=clock, series_limit=series_limit).series


def resume_metrics(
    lines: Iterable[str],
    definitions: Sequence[Mapping[str, str]],
    state: ParseState | None = None,
    *,
    pause_lines: int | None = None,
    pause_seconds: float | None = None,
    max_lines: int = MAX_LINES,
    max_seconds: float = MAX_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    series_limit: int = MAX_SERIES,
) -> Resumed:
    """``parse_metrics`` over the next piece of a job's lines, from ``state`` (None: the first).

    The per-job budgets (``max_lines``, ``max_seconds``) count over every piece; once one is
    exceeded the state keeps its error and later pieces are not read. ``pause_lines`` and
    ``pause_seconds`` bound this piece alone: past either, the call stops taking lines (no error)
    and ``Resumed.paused`` says so; the next piece continues where it stopped. ``lines`` is closed
    when the call returns. Metrics are matched by name: a definition the state has not seen starts
    empty, and one the state has but ``definitions`` lacks is dropped.
    """
    state = ParseState.from_dict(state.to_dict()) if state is not None else ParseState()
    metrics = _prepare(definitions, series_limit)
    for m in metrics:
        saved = state.metrics.get(m.name)
        if saved:
            m.sample.restore(saved)
            m.rejected, m.truncated = int(saved.get("rejected", 0)), int(saved.get("truncated", 0))
    begun = clock()
    iterator = iter(lines)
    taken, paused = state.lines, None
    try:
        if state.error is None:

            def pause(n: int) -> str | None:
                if pause_lines is not None and n >= pause_lines:
                    return f"read {n:,} lines, the most one piece takes ({pause_lines:,})"
                if pause_seconds is not None and clock() - begun >= pause_seconds:
                    return f"spent {pause_seconds:g} s, the most one piece takes, after {n:,} lines"
                return None

            use = pause if pause_lines is not None or pause_seconds is not None else None
            taken, state.error, paused = _read(
                iterator, metrics, state.lines, begun - state.seconds, clock, max_lines, max_seconds, use)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    new = ParseState(taken, state.seconds + (clock() - begun), state.error,
                     {m.name: {**m.sample.state(), "rejected": m.rejected, "truncated": m.truncated}
                      for m in metrics})
    return Resumed({m.name: m.series(new.error) for m in metrics}, new, taken - state.lines, paused)


def thin(values: Sequence[float], limit: int = MAX_SERIES) -> list[float]:
    """Keep at most ``limit`` points: every k-th one plus the last (the final value)."""
    if len(values) <= limit:
        return list(values)
    if limit < 2:
        return [values[-1]] if limit == 1 else []
    step = math.ceil((len(values) - 1) / (limit - 1))
    kept = list(values[: len(values) - 1 : step])[: limit - 1]
    kept.append(values[-1])  # the final value, once
    return kept
