import time

sync_app = FastAPI(title="welcome, def")


@sync_app.get("/hello")
def hello_def():
    time.sleep(0.5)  # blocks its worker thread, not the event loop
    return {"hello": "world"}


with serve(sync_app) as sync_server:
    sync_run = await fire(sync_server, "/hello", n=50, label="def endpoint")
ex1 = sync_run.summary()
print(f"{ex1['worker_threads']} worker threads, {ex1['waves']} waves, {ex1['makespan_s']:.2f} s")
# 40 tokens (AnyIO's default): 40 requests start in the first wave, 10 queue for the second.
assert ex1["peak_in_flight"] == 40 and ex1["waves"] == 2, (
    f"40 tokens: expected 40 at once in 2 waves, saw {ex1['peak_in_flight']} in {ex1['waves']}"
)
# Two waves of 0.5 s: about 1 s (one wave would be 0.5 s, three 1.5 s).
assert 1.0 <= ex1["makespan_s"] < 1.5, (
    f"two waves of 0.5 s should take about 1 s, took {ex1['makespan_s']:.2f} s"
)
sync_run.plot(
    title=f"def + time.sleep: {ex1['peak_in_flight']} run at once, {ex1['queued']} queue for a "
    f"second wave: {ex1['makespan_s']:.2f} s"
)
