# Every quote built (and closed) its own AsyncClient: an SSL context on the loop and a new
# TCP connection each time. One client for the app's life, opened in the lifespan, pays that
# once and keeps its connections alive between quotes.
import math


@asynccontextmanager
async def lifespan(app):
    async with httpx.AsyncClient(base_url=pricing_server.url) as client:
        app.state.pricing = client
        yield


async def quote(sku: str, request: Request):
    reply = await request.app.state.pricing.get(f"/price/{sku}")
    return {"sku": sku, "price": reply.json()["price"]}


with serve(build_shop("lesson 10: shop, fix 3")) as fix3:
    pricing.state.peers.clear()
    quotes_after = await fire(
        fix3, "/quote/teapot", n=N_QUOTES, concurrency=10, label="quotes, fixed"
    )
connections_after, qa = len(pricing.state.peers), quotes_after.summary()
# A connection goes back to the pool when its quote is read, so 10 in flight need at most 10.
assert connections_after <= 10, f"a shared client should reuse connections, saw {connections_after}"
assert qa["loop_cpu_ms_per_request"] < qb["loop_cpu_ms_per_request"] / 3, (
    f"loop CPU per quote should fall: {qb['loop_cpu_ms_per_request']} → {qa['loop_cpu_ms_per_request']} ms"
)
assert qa["makespan_s"] < qb["makespan_s"] / 1.5, (
    f"the quotes should finish sooner: {qb['makespan_s']} → {qa['makespan_s']} s"
)
print(
    f"✓ {connections_before} → {connections_after} connections; loop CPU per quote "
    f"{qb['loop_cpu_ms_per_request']:.1f} → {qa['loop_cpu_ms_per_request']:.1f} ms; "
    f"{qb['makespan_s'] * 1000:.0f} → {qa['makespan_s'] * 1000:.0f} ms"
)
# Above the 50 ms rounds, what is left is CPU work (the shop's loop, pricing's loop and the
# client, all in this one process, one thread at a time under its GIL: quotes_after.cpu) and,
# on a busy machine, waiting for a core.
process_cpu_ms = quotes_after.cpu["cpu_ms"].sum() / N_QUOTES
print(
    f"{math.ceil(N_QUOTES / 10)} rounds of 10 quotes × 50 ms = {math.ceil(N_QUOTES / 10) * 50} ms; "
    f"plus {process_cpu_ms:.1f} ms of this process's CPU per quote"
)
compare(
    quotes,
    quotes_after,
    titles=[
        f"as shipped: {connections_before} connections, {qb['makespan_s'] * 1000:.0f} ms",
        f"fixed: {connections_after} connections, {qa['makespan_s'] * 1000:.0f} ms",
    ],
)
