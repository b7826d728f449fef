# 8 threads: at most 8 handlers, so at most 8 connections at once — the pool opens 8
# (5 + 3 overflow) and closes the 3 overflow ones as they come back; the other requests
# are queued for a thread (waves), not for a connection.
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
opened, closed, kept = (
    ex2_pool.connections_opened(),
    ex2_pool.connections_closed(),
    ex2_pool.idle_in_pool(),
)
print(f"peak {ex2_pool.peak_checked_out()} · opened {opened} · closed {closed} · open after {kept}")
assert ex2_pool.peak_checked_out() == 8 and opened == 8, "8 threads use at most 8 connections"
assert (closed, kept) == (3, 5), "the pool keeps pool_size=5 and closes the 3 overflow connections"
assert ex2_run.summary()["peak_waiting"] > 0, "the rest of the requests queue for a thread"
ex2_pool.close()
ex2_engine.dispose()
