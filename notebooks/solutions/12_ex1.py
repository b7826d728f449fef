if not KILLABLE:
    print("not shown on Windows: Celery's solo pool runs the job in the worker process itself")
else:
    for i in range(10):
        lab_tasks.report_safely.delay(f"safe-{i}", time.time_ns(), LONG)
    queue.wait_running(workers, {f"safe-{i}" for i in range(10)}, count=2)  # one per worker
    for pid in workers.pool_pids():
        os.kill(pid, signal.SIGKILL)
    finished = queue.wait_jobs(workers, 10, prefix="safe-", timeout=sized(20, 12))
    print(f"{finished['job'].nunique()} of 10 report_safely jobs finished")  # all 10: 2 ran twice
    assert finished["job"].nunique() == 10, "acks_late + reject_on_worker_lost lose no job"
