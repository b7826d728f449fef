N_TO_THREAD = sized(30, 20)
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

# concurrent/futures/thread.py: 3.13 counts the CPUs this process may use, earlier versions all.
cpus = os.process_cpu_count() if sys.version_info >= (3, 13) else os.cpu_count()
pool_size = min(32, (cpus or 1) + 4)


def sleep_and_tell(seconds: float) -> str:
    time.sleep(seconds)  # blocks a thread of the loop's default executor, not the loop
    return threading.current_thread().name


@asynccontextmanager
async def executor_n(app):
    # asyncio.to_thread calls loop.run_in_executor(None, …): this pool, on the server's loop
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(N_TO_THREAD))
    yield


to_thread_runs = {}
for lifespan in (None, executor_n):
    to_thread_app = FastAPI(title="lesson 03: exercise 2", lifespan=lifespan)

    @to_thread_app.get("/to_thread")
    async def via_to_thread(seconds: float):
        return {"thread": await asyncio.to_thread(sleep_and_tell, seconds)}

    with serve(to_thread_app) as to_thread_server:
        to_thread_runs[lifespan] = await fire(
            to_thread_server, "/to_thread", n=N_TO_THREAD, params={"seconds": 0.1}
        )
default_run, resized_run = to_thread_runs[None], to_thread_runs[executor_n]
s, s_resized = default_run.summary(), resized_run.summary()
threads_used = default_run.requests["body"].nunique()
rounds = math.ceil(N_TO_THREAD / pool_size)
print(
    f"default executor: predicted {pool_size} threads → {rounds} rounds of 0.1 s; measured "
    f"{threads_used} threads, {s['makespan_s']:.2f} s, AnyIO's gauge peak_busy = {s['peak_busy']}\n"
    f"{N_TO_THREAD}-thread executor: {resized_run.requests['body'].nunique()} threads, "
    f"{s_resized['makespan_s']:.2f} s, peak_busy = {s_resized['peak_busy']}"
)
assert threads_used == min(pool_size, N_TO_THREAD), (
    f"the default executor should have used {min(pool_size, N_TO_THREAD)} threads, saw {threads_used}"
)
assert s["makespan_s"] >= 0.9 * rounds * 0.1, (
    f"{N_TO_THREAD} sleeps on {pool_size} threads need {rounds} rounds of 0.1 s, took {s['makespan_s']} s"
)
assert s["peak_busy"] == s_resized["peak_busy"] == 0, (
    "asyncio.to_thread does not take AnyIO tokens: the gauge should stay at 0"
)
assert resized_run.requests["body"].nunique() > pool_size, (
    "set_default_executor should give asyncio.to_thread more threads than the default pool"
)
assert s_resized["makespan_s"] < 0.6 * s["makespan_s"], (
    f"one round instead of {rounds} should be much faster: {s_resized['makespan_s']} s "
    f"against {s['makespan_s']} s"
)
