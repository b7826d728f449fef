# L = λ·W with the MEAN time a request holds a thread: 1000 × 0.3 = 300 in flight.
plan_ex = workers_needed(target_rps=1000, latency_s=0.3, per_worker=40)
per_machine_rps = 4 * 40 / 0.3  # 4 workers × 40 threads ÷ 0.3 s ≈ 533 requests/s
machines = replicas_needed(1000, per_replica_rps=per_machine_rps, headroom=0.7, spare=1)
workers_total = 4 * machines["replicas"]
fits_each = 300 // workers_total
print(
    f"{plan_ex['in_flight']:.0f} in flight → {plan_ex['workers']} workers; "
    f"{per_machine_rps:.0f} req/s per machine → {machines['replicas']} machines, {workers_total} workers; "
    f"pool_size + max_overflow ≤ {fits_each} each (defaults: 5 + 10 = 15)"
)
assert plan_ex["workers"] == 8, "⌈300 / 40⌉ = 8 workers"
assert machines["replicas"] == 4, "⌈1000 / (533 × 0.7)⌉ = 3 machines, plus a spare"
assert fits_each == 18, (
    "300 connections ÷ 16 workers: each pool may hold at most 18 (5 + 10 = 15 fits)"
)
