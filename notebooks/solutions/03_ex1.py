report_fixed = FastAPI(title="lesson 03: exercise 1")


@report_fixed.get("/report")
def report_on_a_worker():  # a plain def: FastAPI runs it on a worker thread
    with closing(sqlite3.connect(report_query.path)) as db:
        walked, total = db.execute(report_query.sql, report_query.params).fetchone()
    return {"orders_walked": walked, "total": total}


@report_fixed.get("/health")
async def report_fixed_health():
    return {"status": "ok"}


with serve(report_fixed) as report_fixed_server:
    fixed_reports, fixed_health = await asyncio.gather(
        fire(report_fixed_server, "/report", n=N_IO, label="sqlite3 in def"),
        fire(report_fixed_server, "/health", n=N_HEALTH, label="/health beside it"),
    )
fr, fh = fixed_reports.summary(), fixed_health.summary()
print(
    f"reports: {fr['peak_in_flight']} at once, {fr['makespan_s']:.2f} s (on the loop: {rp['makespan_s']:.2f} s); "
    f"/health p95 {fh['latency_p95_s'] * 1000:.0f} ms"
)
assert fr["peak_in_flight"] > 1, (
    f"a def endpoint should overlap, saw {fr['peak_in_flight']} at once"
)
assert frozen_ms(fixed_reports) < 0.25 * frozen_ms(reported), (
    f"on worker threads the reports should leave the loop free; it was frozen {frozen_ms(fixed_reports):.0f} ms, "
    f"against {frozen_ms(reported):.0f} ms with the query on the loop (section 3)"
)
assert fh["latency_p95_s"] < rp["makespan_s"], (
    f"/health should no longer wait for every report: p95 {fh['latency_p95_s']} s, the reports on the loop "
    f"took {rp['makespan_s']} s"
)
# /health still pays something: the query is CPU work, and the report threads, the loop and the
# client share this machine's few cores. For the same reason the reports are not N_IO× faster.
compare(
    fixed_reports,
    fixed_health,
    titles=[
        f"sqlite3 in def: {fr['peak_in_flight']} reports at once, {fr['makespan_s'] * 1000:.0f} ms",
        f"/health beside them: p95 {fh['latency_p95_s'] * 1000:.0f} ms",
    ],
)
