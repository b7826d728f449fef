# 8 threads run at most 8 handlers, so at most 8 connections are out at once (5 + 3 overflow),
# not 15: the other requests queue for a thread (waves), not for a connection. After the burst
# the pool keeps pool_size=5 and has closed the rest. (On a busy machine a connection can come
# back to a full queue mid-burst and be closed, and a new one opened later: count what stays.)
ex2_engine = create_engine(SYNC_URL)
ex2_pool = PoolRecorder(ex2_engine)
ex2_app = FastAPI(title="06 · exercise 2")


@ex2_app.get("/report")
def ex2_report():
    with Session(ex2_engine) as session:
        walked, total = session.execute(REPORT, report.params).one()
    return {"walked": walked, "total": total}


with serve(ex2_app, thread_limit=8) as ex2_server:
    ex2_run = await fire(ex2_server, "/report", n=N_POOL, label="8 threads, default pool")
ex2_peak, opened, closed = (
    ex2_pool.peak_checked_out(),
    ex2_pool.connections_opened(),
    ex2_pool.connections_closed(),
)
print(f"peak {ex2_peak} · opened {opened} · closed {closed} · open after {ex2_pool.idle_in_pool()}")
assert 5 < ex2_peak <= 8, f"8 threads should use at most 8 connections (some overflow): {ex2_peak}"
assert ex2_pool.idle_in_pool() == 5 and opened - closed == 5, "the pool keeps pool_size=5"
assert ex2_run.summary()["peak_waiting"] > 0, "the rest of the requests queue for a thread"
ex2_pool.close()
ex2_engine.dispose()
