N_HEALTH = sized(10, 5)  # /health requests beside each burst
health_p95_ms = {}
for path in ["/primes_async", "/primes_def", "/primes_process"]:
    _, health_run = await asyncio.gather(
        fire(server, path, n=2 * PROCESSES, params=primes, label=path),
        fire(server, "/health", n=N_HEALTH, label=f"/health beside {path}"),
    )
    health_p95_ms[path] = health_run.summary()["latency_p95_s"] * 1000
print({path: f"{ms:.0f} ms" for path, ms in health_p95_ms.items()})
# In async def each /health waits behind whole count_primes calls on the loop thread; in def it
# waits for the GIL among the busy worker threads (section 2), so it lands in between.
assert health_p95_ms["/primes_process"] < health_p95_ms["/primes_async"] / 2, (
    "with the work in other processes, /health should answer far sooner than beside async def"
)
