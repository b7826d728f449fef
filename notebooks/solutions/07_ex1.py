class Pagination:
    def __init__(self, limit: int = 10, offset: int = 0):
        with tracer.start_as_current_span("Pagination.__init__"):  # records the thread it runs on
            self.limit, self.offset = limit, offset


@deps.get("/items")
async def list_items(page: Annotated[Pagination, Depends()]):
    return {"limit": page.limit, "offset": page.offset}


deps_server = serve(deps, thread_limit=LIMIT)  # the same app again: the old server stops
paged = await fire(deps_server, "/items", n=N, params={"limit": 5}, label="class dependency")
inits = spans_named(paged, "Pagination.__init__")
print(inits["thread"].value_counts().to_dict())
# fastapi/dependencies/models.py: _is_coroutine_callable_cached answers False for a class, so
# solve_dependencies calls it through run_in_threadpool: a token for microseconds of work.
assert len(inits) == N and not inits["on_loop"].any(), (
    f"every Pagination.__init__ should run on a worker thread: {inits['on_loop'].sum()} of "
    f"{len(inits)} ran on the loop"
)
plot_thread_lanes(
    paged,
    titles=[
        f"Pagination.__init__: {len(inits)} calls on {inits['thread'].nunique()} worker threads, none on the loop"
    ],
)
