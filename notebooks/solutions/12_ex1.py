if not KILLABLE:
    print("not shown on Windows: Celery's solo pool runs the job in the worker process itself")
else:
    for i in range(10):
        lab_tasks.report_safely.delay(f"safe-{i}", time.time_ns(), LONG)
    queue.wait_running(workers, {f"safe-{i}" for i in range(10)}, count=2)  # one per worker
    for pid in workers.pool_pids():
        os.kill(pid, signal.SIGKILL)
    finished = queue.wait_jobs(workers, 10, prefix="safe-", timeout=60)  # returns when all end
    starts = queue.started_jobs(workers, prefix="safe-")
    twice = sorted({job for job in starts if starts.count(job) > 1})
    print(f"{finished['job'].nunique()} of 10 report_safely jobs finished; started twice: {twice}")
    assert finished["job"].nunique() == 10, "acks_late + reject_on_worker_lost lose no job"
    assert len(twice) == 2, "the two killed jobs were delivered again: at least once"
