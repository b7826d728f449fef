mix_app = FastAPI(title="01 · exercise 2")


@mix_app.get("/mixed")
async def mixed():
    user = await call("mixed: user", 0.08)  # needed first
    orders, prices = await asyncio.gather(call("mixed: orders", 0.06), call("mixed: prices", 0.05))
    return [user, orders, prices]


calls_log.clear()
with serve(mix_app) as mix_server:
    r = (await fire(mix_server, "/mixed", n=1, label="mixed")).requests
mixed_ms = float((r["end"] - r["start"]).iloc[0] * 1000)
# Prediction: 80 ms, then the longer of 60 and 50 ms → about 140 ms.
mixed_calls = calls_log.segments().set_index("lane")
user, later = mixed_calls.loc["mixed: user"], mixed_calls.loc[["mixed: orders", "mixed: prices"]]
assert (later["start_ms"] >= user["end_ms"]).all(), (
    "orders and prices should start once the user is in hand"
)
assert later["start_ms"].max() < later["end_ms"].min(), (
    "orders and prices should wait at the same time"
)
assert 139 <= mixed_ms < 170, (
    f"80 ms, then the longer of 60 and 50 ms: about 140 ms (all in a row: 190), saw {mixed_ms:.0f} ms"
)
plot_steps(
    calls_log,
    title=f"User first, then the other two together: {mixed_ms:.0f} ms",
    thread_lanes=False,
    durations=True,
)
