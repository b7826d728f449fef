# Three limiters of 40: at most 120 at once, so ⌈N_SLEEP / 120⌉ waves if the connections were
# split evenly. The accept() race does not split them evenly: the busiest worker decides.
my_peak = 120
with start_workers("scaling_app:app", workers=3, app_dir=APP_DIR) as three:
    sleep_three = await fire_url(
        three, "/sync_sleep", n=N_SLEEP, params={"seconds": 0.5}, label="3 workers"
    )
s3, per_three = sleep_three.summary(), process_frame(sleep_three)
print(per_three)
print(
    f"peak {s3['peak_in_flight']} at once, {s3['makespan_s']:.2f} s (2 workers: {s2['makespan_s']:.2f} s)"
)
assert len(per_three) == 3, f"all three workers should have served:\n{per_three}"
assert (per_three["peak_in_flight"] <= 40).all(), "each worker has its own 40 tokens"
assert 40 < s3["peak_in_flight"] <= my_peak, (
    f"more than one limiter, at most {my_peak} at once: saw {s3['peak_in_flight']}"
)
assert not three.running, "the with block stopped the workers"
