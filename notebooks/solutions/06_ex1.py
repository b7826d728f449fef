# N_DEAD + 1: even when all N_DEAD dependencies hold a connection, one is left for an endpoint;
# it finishes and gives back two, and so on. With N_DEAD, the order of section 3 deadlocks:
# run both, so the answer is shown to be the smallest, not just large enough.
from fastapi import Depends  # named here so linters see FastAPI's marker


async def two_sessions_with(pool_size, timeout_s):
    """Fire N_DEAD requests at a two-sessions endpoint on a fresh pool of pool_size."""
    engine = create_engine(SYNC_URL, pool_size=pool_size, max_overflow=0, pool_timeout=timeout_s)

    def get_my_session():
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            time.sleep(LOOKUP_S)
            yield session

    app = FastAPI(title=f"06 · exercise 1, pool_size={pool_size}")
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, pool_exhausted)

    @app.get("/nested")
    def my_nested(user_session: Session = Depends(get_my_session)):
        with Session(engine) as session:
            walked, total = session.execute(REPORT, report.params).one()
        return {"walked": walked, "total": total}

    with serve(app) as server:
        run = await fire(server, "/nested", n=N_DEAD, label=f"pool_size={pool_size}")
    engine.dispose()
    return Counter(run.requests["status"].tolist())


# A longer user lookup than section 3's: every request must hold its first connection before
# any endpoint asks for a second, even on a loaded machine, or pool_size=N_DEAD need not deadlock.
LOOKUP_S = 0.3
my_pool_size = N_DEAD + 1
one_short = await two_sessions_with(my_pool_size - 1, timeout_s=2)
enough = await two_sessions_with(my_pool_size, timeout_s=5)
print(f"pool_size={my_pool_size - 1}: {one_short} · pool_size={my_pool_size}: {enough}")
assert one_short[500] > 0, f"pool_size={my_pool_size - 1} should deadlock: {one_short}"
assert enough == {200: N_DEAD}, f"pool_size={my_pool_size} should serve all {N_DEAD}: {enough}"
