# Three limiters of 40: ⌈N_SLEEP / 120⌉ waves if the kernel split the connections evenly,
# and at most 120 at once. It does not split evenly, so expect the peak a little lower.
my_waves, my_peak = -(-N_SLEEP // 120), 120
with start_workers("scaling_app:app", workers=3, app_dir=APP_DIR) as three:
    sleep_three = await fire_url(
        three, "/sync_sleep", n=N_SLEEP, params={"seconds": 0.5}, label="3 workers"
    )
s3 = sleep_three.summary()
print(
    f"3 workers ({len(process_frame(sleep_three))} served): peak {s3['peak_in_flight']} at once, "
    f"{s3['makespan_s']:.2f} s (2 workers: {s2['makespan_s']:.2f} s); still running: {three.running}"
)
assert len(process_frame(sleep_three)) == 3, "all three workers should have served"
assert s2["peak_in_flight"] < s3["peak_in_flight"] <= my_peak, (
    f"three limiters hold more than two ({s2['peak_in_flight']}) and at most {my_peak}, saw {s3['peak_in_flight']}"
)
assert not three.running, "the with block stopped the workers"
