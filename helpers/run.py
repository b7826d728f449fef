"""``Run``: one burst, as tables on one clock (seconds from the burst start)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers.cpu_account import CPU_COLUMNS, CpuWindow
from helpers.probes import Samples
from helpers.stats import peak_overlap, percentile, wave_numbers
from helpers.tracing import RequestRecord, SpanRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ClientRecord", "Run", "build_run", "request_waves"]

LOOP_LABEL = "event loop"
REQUEST_COLUMNS = [
    "id", "path", "sent", "arrived", "start", "end", "responded", "done", "received",
    "wait", "thread", "on_loop", "status", "error", "body",
]  # fmt: skip
SPAN_COLUMNS = ["id", "name", "start", "end", "thread", "on_loop"]


@dataclass
class ClientRecord:
    """What the client saw of one request; times are ``time.perf_counter()`` seconds."""

    id: int
    path: str
    sent: float
    received: float
    status: int | None
    error: str | None
    body: str | None


class Run:
    """One burst of requests and what the server did with them.

    Tables (pandas DataFrames; every time in **seconds from the burst start**):

    - ``requests``: one row per request — ``sent``/``received`` (client), ``arrived``
      (reached the app), ``start``/``end`` (the endpoint function ran), ``responded``
      (response sent), ``done`` (app call returned, after background tasks), ``wait``
      (from dependencies solved to the handler starting on a worker thread: queued for a
      thread-limiter token, plus the hand-off to the thread, which waits for the GIL too),
      ``thread`` (``event loop`` or ``worker N``),
      ``on_loop``, ``status`` (HTTP status, missing on failure), ``error``, ``body``,
      ``wave`` (1 for a request that got a worker thread at once or never needed one, 2 for
      one that queued until a wave-1 request handed its thread over, …; 0 if it never ran;
      ``request_waves``).
      Timelines draw ``wait`` as the grey "waiting for a worker thread (incl. hand-off)"
      segment: it is not only the queue, so a free pool still shows a sliver.
    - ``spans``: every span of the burst (FastAPI's dependencies, endpoint, serialization,
      background tasks, and the learner's own) with its thread.
    - ``lag``: loop-lag probe readings, ``t`` (s) and ``lag_ms``.
    - ``pool``: thread-pool gauge readings, ``t`` (s), ``busy`` and ``waiting``.
    - ``cpu``: CPU time each thread of this process used during the burst
      (``helpers/cpu_account.py``): ``role`` (``server loop``, ``worker``, ``client`` — the
      kernel thread that ran ``fire`` —, ``other``, ``unattributed``), ``thread``,
      ``cpu_ms`` and ``per_request_ms``; empty where the platform has no per-thread clock.

    ``t0`` is the burst start as a ``time.perf_counter()`` reading, so events a handler
    stamps with ``perf_counter()`` land on the run's clock as ``stamp - run.t0``.
    """

    def __init__(
        self,
        requests: pd.DataFrame,
        spans: pd.DataFrame,
        lag: pd.DataFrame,
        pool: pd.DataFrame,
        *,
        thread_limit: int | None,
        traced: bool,
        label: str = "",
        t0: float = 0.0,
        cpu: pd.DataFrame | None = None,
    ) -> None:
        self.t0 = t0
        self.cpu = cpu if cpu is not None else pd.DataFrame(columns=CPU_COLUMNS)
        self.requests = requests
        self.spans = spans
        self.lag = lag
        self.pool = pool
        self.thread_limit = thread_limit
        self.traced = traced
        self.label = label

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<Run {self.label or ''} n={s['n']} ok={s['ok']} makespan={s['makespan_s']:.3f}s "
            f"worker_threads={s['worker_threads']} waves={s['waves']}>"
        )

    def summary(self) -> dict[str, Any]:
        """Headline numbers of the burst (seconds unless the key says ``_ms``).

        Keys: ``n``, ``ok`` (answered with any HTTP status — check ``requests["status"]``
        for 5xx), ``failed`` (no answer: timeout or connection error), ``makespan_s``
        (first send → last receive),
        ``latency_p50_s``/``latency_p95_s``/``latency_max_s`` (client-side),
        ``worker_threads`` (distinct threads other than the event loop that ran any span of
        the burst — an endpoint, a learner's span in a ``def`` dependency … —, as in
        ``spans``, or, if more, the server's worker threads that used CPU in ``cpu``: a
        ``def`` dependency runs on one without a span of its own; 0 for pure async),
        ``peak_busy``/``peak_waiting`` (thread-pool gauge),
        ``peak_in_flight`` (most handlers running at once), ``max_lag_ms``,
        ``waves`` (how many waves the handlers ran in: a second wave starts when requests
        that queued for a worker thread get one, as ``requests["wave"]``; 1 when nothing
        queued), ``queued`` (handlers in wave 2 or later),
        ``rounds`` (the most handlers one worker thread ran; 0 for pure async),
        ``thread_limit`` (``None`` for a server the lab did not start),
        ``client_overhead_p50_ms`` (median time a request spent outside
        the app: client, TCP and uvicorn), ``wait_p50_ms`` (median ``wait`` of handlers on
        worker threads: waiting for a worker thread, incl. the hand-off),
        ``loop_cpu_ms_per_request``/``workers_cpu_ms_per_request``/
        ``client_cpu_ms_per_request`` (CPU time of the server's loop thread, of its worker
        threads, and of the thread that ran ``fire``, per request, from ``cpu``; NaN where
        per-thread clocks are unavailable).
        """
        r = self.requests
        ok = r[r["status"].notna()]
        latency = (ok["received"] - ok["sent"]).tolist()
        handled = r[r["start"].notna() & r["end"].notna()]
        on_worker = ~handled["on_loop"].astype(bool)
        on_workers = handled.loc[on_worker, "thread"]
        span_threads = self.spans.loc[~self.spans["on_loop"].astype(bool), "thread"]
        # A def dependency of an async endpoint runs on worker threads without a span of its
        # own; the CPU account still sees those threads work.
        cpu_workers = int(self.cpu["role"].eq("worker").sum()) if len(self.cpu) else 0
        workers = max(len(set(on_workers.dropna()) | set(span_threads.dropna())), cpu_workers)
        rounds = int(on_workers.value_counts().max()) if len(on_workers) else 0
        overhead = ((ok["received"] - ok["sent"]) - (ok["responded"] - ok["arrived"])).tolist()
        waves = request_waves(r, self.thread_limit, self.spans)
        return {
            "n": len(r),
            "ok": len(ok),
            "failed": len(r) - len(ok),
            "makespan_s": _round(float(r["received"].max() - r["sent"].min()) if len(r) else 0),
            "latency_p50_s": _round(percentile(latency, 50)),
            "latency_p95_s": _round(percentile(latency, 95)),
            "latency_max_s": _round(max(latency) if latency else math.nan),
            "worker_threads": int(workers),
            "peak_busy": int(self.pool["busy"].max()) if len(self.pool) else 0,
            "peak_waiting": int(self.pool["waiting"].max()) if len(self.pool) else 0,
            "peak_in_flight": peak_overlap(list(zip(handled["start"], handled["end"]))),
            "max_lag_ms": _round(float(self.lag["lag_ms"].max()) if len(self.lag) else 0, 1),
            "waves": max(waves, default=0),
            "queued": sum(wave >= 2 for wave in waves),
            "rounds": rounds,
            "thread_limit": self.thread_limit,
            "client_overhead_p50_ms": _round(percentile(overhead, 50) * 1000, 2),
            "wait_p50_ms": _round(
                percentile(handled.loc[on_worker, "wait"].tolist(), 50) * 1000, 2
            ),
            **self._cpu_per_request(),
        }

    def _cpu_per_request(self) -> dict[str, float]:
        by_role = {"server loop": "loop", "worker": "workers", "client": "client"}
        out = {f"{key}_cpu_ms_per_request": math.nan for key in by_role.values()}
        if len(self.cpu):
            sums = self.cpu.groupby("role")["per_request_ms"].sum()
            for role, key in by_role.items():
                out[f"{key}_cpu_ms_per_request"] = _round(float(sums.get(role, 0.0)), 3)
        return out

    def plot(self, title: str | None = None) -> Figure:
        """Timeline, loop lag and thread-pool panels on one shared time axis (ms)."""
        from helpers.plots import plot_run

        return plot_run(self, title=title)

    def to_trace(self, path: str | Path) -> Path:
        """Write the burst as Chrome Trace Event JSON (open it in Perfetto or vizviewer)."""
        from helpers.trace_export import write_trace

        return write_trace(self, path)


def request_waves(
    requests: pd.DataFrame, thread_limit: int | None, spans: pd.DataFrame | None = None
) -> list[int]:
    """The wave of each request (``helpers/stats.py: wave_numbers``), in row order.

    A request's turn on the thread pool is its first stretch of work on a worker thread:
    its handler, if the handler ran on one (it asked for the thread when its dependencies
    were solved, ``start - wait``), or else the first ``spans`` row off the loop — e.g. the
    learner's own span in a ``def`` dependency of an ``async def`` endpoint (asked, at the
    latest, when the request reached the app). Those turns share ``thread_limit`` threads.
    A request that never used a worker thread never queued for one: wave 1. 0 for a request
    whose handler did not run and that did no work on a worker thread.
    """
    r = requests
    ran = r["start"].notna() & r["end"].notna()
    waves = [1 if did_run else 0 for did_run in ran.tolist()]
    turns: dict[int, tuple[float, float, float]] = {}  # row → (start, end, asked)
    starts, ends = r["start"].astype(float).tolist(), r["end"].astype(float).tolist()
    waits, arrived = r["wait"].astype(float).tolist(), r["arrived"].astype(float).tolist()
    for row, flag in enumerate((ran & r["on_loop"].eq(False)).tolist()):
        if flag:  # NaN wait → unknown ask
            turns[row] = (starts[row], ends[row], starts[row] - waits[row])
    if spans is not None and len(spans):
        off = spans[spans["on_loop"].eq(False) & spans["start"].notna() & spans["end"].notna()]
        first: dict[Any, tuple[float, float]] = {}
        for request_id, start, end in zip(off["id"], off["start"], off["end"]):
            if request_id not in first or start < first[request_id][0]:
                first[request_id] = (float(start), float(end))
        for row, request_id in enumerate(r["id"].tolist()):
            if request_id in first and (row not in turns or first[request_id][0] < turns[row][0]):
                turns[row] = (*first[request_id], arrived[row])
    if turns:
        rows = sorted(turns)
        numbers = wave_numbers([turns[i][0] for i in rows], [turns[i][1] for i in rows],
                               [turns[i][2] for i in rows], thread_limit)  # fmt: skip
        for row, number in zip(rows, numbers):
            waves[row] = number
    return waves


def _round(value: float, digits: int = 4) -> float:
    return value if math.isnan(value) else round(value, digits)


def build_run(
    clients: Sequence[ClientRecord],
    servers: Sequence[RequestRecord] | None,
    samples: Samples,
    *,
    t0: float,
    loop_thread_id: int | None,
    thread_limit: int | None,
    label: str = "",
    cpu: CpuWindow | None = None,
) -> Run:
    """Join client and server records (by position: both follow the request order);
    ``cpu`` is the CPU window ``fire`` opened and closed around the burst."""
    thread_names: dict[int, str] = {}
    if servers is not None:
        _name_threads(servers, loop_thread_id, thread_names)
    rows = []
    span_rows = []
    for i, client in enumerate(clients):
        server = servers[i] if servers is not None else None
        row = _request_row(client, server, t0, loop_thread_id, thread_names)
        rows.append(row)
        if server is not None:
            for span in server.spans:
                if span.server or span.end is None:
                    continue
                span_rows.append(
                    {
                        "id": client.id,
                        "name": span.name.removeprefix("fastapi."),
                        "start": span.start - t0,
                        "end": span.end - t0,
                        "thread": _thread_label(span.thread_id, loop_thread_id, thread_names),
                        "on_loop": span.thread_id == loop_thread_id,
                    }
                )
    requests = pd.DataFrame(rows, columns=REQUEST_COLUMNS)
    requests["status"] = requests["status"].astype("Int64")
    spans = pd.DataFrame(span_rows, columns=SPAN_COLUMNS)
    requests["wave"] = request_waves(requests, thread_limit, spans)
    # Readings taken before the first request was sent belong to no burst.
    complete = min(len(samples.t), len(samples.lag), len(samples.busy), len(samples.waiting))
    keep = [i for i in range(complete) if samples.t[i] >= t0]
    times = [samples.t[i] - t0 for i in keep]
    lag = pd.DataFrame({"t": times, "lag_ms": [samples.lag[i] * 1000 for i in keep]})
    pool = pd.DataFrame(
        {"t": times, "busy": [samples.busy[i] for i in keep],
         "waiting": [samples.waiting[i] for i in keep]}
    )  # fmt: skip
    worker_idents = {
        span.thread_id
        for record in servers or []
        for span in record.spans
        if span.thread_id != loop_thread_id
    }
    cpu_table = cpu.table(len(clients), worker_idents, thread_names) if cpu is not None else None
    return Run(
        requests, spans, lag, pool, thread_limit=thread_limit, traced=servers is not None,
        label=label, t0=t0, cpu=cpu_table,
    )  # fmt: skip


def _name_threads(
    servers: Sequence[RequestRecord], loop_thread_id: int | None, names: dict[int, str]
) -> None:
    """Number worker threads 1, 2, … in the order they first started a handler."""
    firsts: dict[int, float] = {}
    for record in servers:
        for span in record.spans:
            if span.thread_id != loop_thread_id:
                firsts[span.thread_id] = min(span.start, firsts.get(span.thread_id, math.inf))
    for number, thread_id in enumerate(sorted(firsts, key=firsts.__getitem__), start=1):
        names[thread_id] = f"worker {number}"


def _thread_label(thread_id: int, loop_thread_id: int | None, names: dict[int, str]) -> str:
    return LOOP_LABEL if thread_id == loop_thread_id else names.get(thread_id, "other thread")


def _find(spans: list[SpanRecord], name: str) -> SpanRecord | None:
    for span in spans:
        if span.name == name:
            return span
    return None


def _request_row(
    client: ClientRecord,
    server: RequestRecord | None,
    t0: float,
    loop_thread_id: int | None,
    names: dict[int, str],
) -> dict[str, Any]:
    nan = math.nan
    row: dict[str, Any] = {
        "id": client.id, "path": client.path,
        "sent": client.sent - t0, "received": client.received - t0,
        "arrived": nan, "start": nan, "end": nan, "responded": nan, "done": nan, "wait": nan,
        "thread": None, "on_loop": None,
        "status": client.status, "error": client.error, "body": client.body,
    }  # fmt: skip
    if server is None:
        return row
    if server.arrived is not None:
        row["arrived"] = server.arrived - t0
    if server.done is not None:
        row["done"] = server.done - t0
    request_span = next((s for s in server.spans if s.server), None)
    if request_span is not None and request_span.end is not None:
        row["responded"] = request_span.end - t0
    endpoint = _find(server.spans, "fastapi.endpoint")
    if endpoint is None:
        return row
    on_loop = endpoint.thread_id == loop_thread_id
    row["start"] = endpoint.start - t0
    row["end"] = endpoint.end - t0 if endpoint.end is not None else nan
    row["thread"] = _thread_label(endpoint.thread_id, loop_thread_id, names)
    row["on_loop"] = on_loop
    dependencies = _find(server.spans, "fastapi.dependencies")
    if on_loop:
        row["wait"] = 0.0
    elif dependencies is not None and dependencies.end is not None:
        # From "dependencies solved, endpoint handed to the thread pool" to "a worker
        # thread started it": queued on the CapacityLimiter, plus the hand-off to the
        # thread (which needs the GIL, so CPU-bound neighbours stretch it too).
        row["wait"] = max(0.0, endpoint.start - dependencies.end)
    return row
