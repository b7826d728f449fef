from starlette.concurrency import run_in_threadpool

fixed_models = FastAPI(title="lesson 07: exercise 2")


# An async def endpoint validates its return value on the loop (fastapi/routing.py:
# serialize_response); only the blocking part takes a worker thread, once.
@fixed_models.get("/typed")
async def typed_async(seconds: float = 0.1) -> Order:
    await run_in_threadpool(time.sleep, seconds)
    return Order(id=1, total=9.5)


fixed_server = serve(fixed_models, thread_limit=LIMIT)
fixed_run = await fire(fixed_server, "/typed", n=N_MODEL, label="async def + response model")
fixed_gap = (fixed_run.requests["responded"] - fixed_run.requests["end"]) * 1000
print(
    f"median responded − end: {fixed_gap.median():.1f} ms (section 2: {typed_gap.median():.0f} ms)"
)
assert fixed_gap.median() < typed_gap.median() / 3, (
    f"validated on the loop, the response should leave soon after the work: "
    f"{fixed_gap.median():.0f} ms vs {typed_gap.median():.0f} ms with a second token"
)
fixed_server.stop()
