# The semaphore's queue has no deadline: calls 101–150 wait there, not in the client's pool,
# so none fails; they start as the first 100 end: two waves, ≈ 2 × WRITE_S seconds.
my_failures, my_waves = 0, 2


@api.get("/fanout_bounded")
async def fanout_bounded(request: Request, n: int, seconds: float):
    gate = asyncio.Semaphore(100)  # one per request: it bounds this fan-out, not the app

    async def bounded_call():
        async with gate:
            return await call_inventory(request, seconds)

    results = await asyncio.gather(*(bounded_call() for _ in range(n)), return_exceptions=True)
    return collections.Counter(type(r).__name__ for r in results)


params = {"n": N_FAN, "seconds": WRITE_S}
bounded = await fire(api_server, "/fanout_bounded", n=1, params=params, timeout=60, progress=False)
ex1_counts = collections.Counter(json.loads(bounded.requests["body"][0]))
ex1_handlers = spans_named(bounded, "upstream handler")
ex1_peak = peak_overlap(list(zip(ex1_handlers["start"], ex1_handlers["end"])))
ex1_s = bounded.summary()["latency_p50_s"]
print(f"{dict(ex1_counts)} in {ex1_s:.1f} s, at most {ex1_peak} at the inventory at once")
assert N_FAN - ex1_counts["Response"] == my_failures, f"expected no failure: {dict(ex1_counts)}"
assert ex1_peak <= 100, f"the semaphore admits 100 at a time, saw {ex1_peak}"
assert ex1_s >= my_waves * WRITE_S, f"{my_waves} waves of {WRITE_S} s cannot end in {ex1_s:.1f} s"
