# 25 tokens: ⌈75 / 25⌉ = 3 waves of 0.3 s, so about 0.9 s plus what the bench costs.
my_waves, my_makespan_s = 3, 0.9
ex1_app = FastAPI(title="02 · exercise 1")
ex1_app.add_api_route("/report", report)
with serve(ex1_app, thread_limit=25) as ex1_server:
    ex1_run = await fire(ex1_server, "/report", n=75, params={"seconds": 0.3}, label="25 tokens")
ex1, ex1_waves = ex1_run.summary(), wave_sizes(ex1_run)
print(f"waves of {ex1_waves} on {ex1['worker_threads']} threads, {ex1['makespan_s']:.2f} s")
assert ex1_waves == [25] * my_waves, f"expected {my_waves} waves of 25, saw {ex1_waves}"
assert my_makespan_s <= ex1["makespan_s"] < my_makespan_s + 0.6, (
    f"{my_waves} waves of 0.3 s take {my_makespan_s} s plus the bench's cost, not {ex1['makespan_s']:.2f} s"
)
