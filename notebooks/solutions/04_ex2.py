from concurrent.futures import ThreadPoolExecutor


def to_thread_app(threads):
    """An app whose /primes awaits asyncio.to_thread; threads=None keeps the default pool."""

    @asynccontextmanager
    async def lifespan(app):
        if threads is not None:
            executor = ThreadPoolExecutor(threads)
            asyncio.get_running_loop().set_default_executor(executor)
        yield

    sized_app = FastAPI(title=f"lesson 04: to_thread with {threads or 'default'} threads",
                        lifespan=lifespan)  # fmt: skip

    @sized_app.get("/primes")
    async def primes_to_thread(limit: int):
        return await asyncio.to_thread(count_primes_timed, limit)

    return sized_app


to_thread_runs = {}
for threads in (None, 1):
    with serve(to_thread_app(threads)) as to_thread_server:
        label = f"to_thread, {threads or 'default'} threads"
        to_thread_runs[threads] = await fire(
            to_thread_server, "/primes", n=N, params=primes, label=label
        )
makespan = {k: run.summary()["makespan_s"] for k, run in to_thread_runs.items()}
share = {k: work_frame(run)["core_share"].mean() for k, run in to_thread_runs.items()}
for k, run in to_thread_runs.items():
    print(f"{k or 'default'} thread(s): {makespan[k]:.2f} s, each job had {share[k]:.0%} of a core, "
          f"{cores_busy(run):.2f} cores busy")  # fmt: skip
# More threads run more jobs at once, each with a smaller share; under the GIL they still add
# up to one core at most (cores busy), and the makespans move with whatever else this machine runs.
assert share[1] > 1.5 * share[None], "one thread should give each job a larger share of a core"
