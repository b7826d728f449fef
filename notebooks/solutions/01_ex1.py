work_app = FastAPI(title="01 · exercise 1")


@work_app.get("/work")
async def work():
    burn_cpu(0.002)  # 2 ms on the loop: no other request runs meanwhile
    await asyncio.sleep(1.0)
    return {"worked_ms": 2}


with serve(work_app) as work_server:
    w = (await fire(work_server, "/work", n=300, label="300 × (2 ms + sleep 1 s)")).summary()
# Prediction: the loop's CPU per request rises by 2 ms; the last request starts its sleep only
# after 300 × 2 ms of work, so the makespan is at least 1 s + 0.6 s.
print(
    f"makespan {w['makespan_s']:.2f} s, loop CPU {w['loop_cpu_ms_per_request']:.2f} ms per request "
    f"(/sleep: {traced_ms:.2f} ms)"
)
assert traced_ms + 1.5 <= w["loop_cpu_ms_per_request"] < traced_ms + 4, (
    f"2 ms of burn_cpu per request should add about 2 ms (not 4) to the loop's CPU: "
    f"{w['loop_cpu_ms_per_request']:.2f} ms, against {traced_ms:.2f} ms for /sleep"
)
assert w["makespan_s"] >= 1.0 + 300 * 0.002, (
    f"300 × 2 ms of work take turns on one thread before the last sleep starts: {w['makespan_s']:.2f} s"
)
