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
assert ex1["peak_in_flight"] == 40 and ex1["waves"] == 2, ex1
sync_run.plot()
