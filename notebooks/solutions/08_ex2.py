# The timeout cancels the task running the TaskGroup at 120 ms; the group then cancels both
# children before either reaches its side effect (150 ms and 250 ms): no charge, no email.
@shop.get("/budget")
async def checkout_with_budget():
    try:
        async with asyncio.timeout(0.12), asyncio.TaskGroup() as group:
            group.create_task(charge_card())
            group.create_task(send_email())
    except TimeoutError:
        return JSONResponse({"error": "checkout took too long"}, status_code=504)
    return {"ok": True}


if PY311:
    budget_run = await fire(shop_server, "/budget", n=N_SHOP)
    await asyncio.sleep(0.3)
    steps = budget_run.spans[~budget_run.spans["fastapi"]]
    print(steps.groupby(["name", "status"]).size())
    assert (budget_run.requests["status"] == 504).all(), (
        "every checkout should hit the 120 ms budget"
    )
    assert count_attribute(steps, "card.charged") == count_attribute(steps, "email.sent") == 0
    assert (steps["status"] == "cancelled").sum() == 2 * N_SHOP, "both steps should be cancelled"
