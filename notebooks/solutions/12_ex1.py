for i in range(10):
    lab_tasks.report_safely.delay(f"safe-{i}", time.time_ns(), LONG)
time.sleep(0.25)  # two of them are running now
for pid in workers.pool_pids():
    os.kill(pid, signal.SIGKILL)
finished = queue.wait_jobs(workers, 10, prefix="safe-", timeout=sized(20, 12))
print(f"{len(finished)} of 10 report_safely jobs finished")
assert len(finished) == 10
