def nightly_report_in_a_thread():  # a def task: Starlette runs it with run_in_threadpool
    with tracer.start_as_current_span("report (def task)"):
        time.sleep(0.1)  # still blocking, but on a worker thread


@bg.get("/report_fixed")
async def report_fixed(tasks: BackgroundTasks):
    tasks.add_task(nightly_report_in_a_thread)
    return {"queued": 1}


bg_server = serve(bg)  # the same app again, with the new route
_, health_fixed = await asyncio.gather(
    fire(bg_server, "/report_fixed", n=N_BG + 1, label="/report_fixed"),
    fire(bg_server, "/health", n=N_HEALTH, label="/health beside /report_fixed"),
)
hx = health_fixed.summary()
print(
    f"/health p50: {hx['latency_p50_s'] * 1000:.0f} ms beside /report_fixed, "
    f"{hb['latency_p50_s'] * 1000:.0f} ms beside /report; longest loop stall {hx['max_lag_ms']:.0f} ms "
    f"vs {hb['max_lag_ms']:.0f} ms"
)
assert hx["latency_p50_s"] < hb["latency_p50_s"] / 2, (
    "on a worker thread the report should no longer hold /health back"
)
compare(
    health_blocked,
    health_fixed,
    titles=[
        f"async def task + time.sleep: /health p50 {hb['latency_p50_s'] * 1000:.0f} ms",
        f"def task: /health p50 {hx['latency_p50_s'] * 1000:.0f} ms",
    ],
)
