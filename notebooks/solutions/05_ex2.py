N_EX2 = sized(100, 45)
# One wave needs as many tokens as calls: with N_EX2 tokens no call queues for a thread.
api_server.call_soon(set_tokens(N_EX2))
ex2_def = (await fire(api_server, "/requests_def", n=N_EX2, params={"seconds": 0.2})).summary()
api_server.call_soon(set_tokens(40))
ex2_async = (await fire(api_server, "/httpx_shared", n=N_EX2, params={"seconds": 0.2})).summary()
print(
    f"def on {ex2_def['worker_threads']} threads: {ex2_def['makespan_s']:.2f} s in "
    f"{ex2_def['waves']} wave(s); httpx async: {ex2_async['makespan_s']:.2f} s"
)
assert ex2_def["waves"] == 1 and ex2_def["worker_threads"] > 40, (
    f"{N_EX2} tokens should run every call in one wave on more than 40 threads: {ex2_def}"
)
assert ex2_def["makespan_s"] < 1.5 * ex2_async["makespan_s"], (
    f"in one wave, def should be about as fast as the shared AsyncClient: "
    f"{ex2_def['makespan_s']:.2f} s against {ex2_async['makespan_s']:.2f} s"
)
