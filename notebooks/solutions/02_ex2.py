import anyio

report_limiter = anyio.CapacityLimiter(30)  # /report's own tokens: the default 40 stay free
isolated = FastAPI(title="02 · exercise 2")


@isolated.get("/report")
async def isolated_report(seconds: float = 0.5):
    await anyio.to_thread.run_sync(time.sleep, seconds, limiter=report_limiter)
    return {"slept": seconds}


isolated.add_api_route("/health_def", health_def)  # section 1's def health check
with serve(isolated) as ex2_server:
    ex2_reports, ex2_health = await asyncio.gather(
        fire(ex2_server, "/report", n=50, params={"seconds": 0.5}, label="slow reports"),
        after(0.15, fire(ex2_server, "/health_def", n=10, label="/health_def")),
    )
ex2_p50 = ex2_health.summary()["latency_p50_s"] * 1000
ex2_reports_s = ex2_reports.summary()["makespan_s"]
print(
    f"/health_def: {ex2_p50:.0f} ms (section 4: {p50['/health_def']:.0f} ms) · "
    f"50 reports on 30 tokens: {ex2_reports_s:.2f} s, ⌈50 / 30⌉ = 2 waves"
)
assert ex2_p50 < p50["/health_def"] / 3, (
    f"with its own tokens free, /health_def should not wait for the reports: {ex2_p50:.0f} ms"
)
assert ex2_reports_s >= 2 * 0.5, "50 reports on 30 tokens need two waves of 0.5 s"
