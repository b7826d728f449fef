import threading

from fastapi import Depends

if 15 not in book.claims:
    book.add_claim(
        Claim(
            15,
            "a def dependency of an async def endpoint runs on the event loop",
            "07_dependencies_and_background",
        )
    )


def which_thread():
    return threading.current_thread().name


deps = FastAPI(title="11 · exercise")


@deps.get("/who")
async def who(thread: str = Depends(which_thread)):
    return {"thread": thread}


with serve(deps) as deps_server:
    who_run = await fire(deps_server, "/who", n=sized(10, 5), label="def dependency")
names = who_run.requests["body"].str.extract(r'"thread":"([^"]+)"')[0]


def claim_15(share_on_loop):  # share of requests whose dependency ran on the loop thread
    return "true" if share_on_loop == 1 else "false" if share_on_loop == 0 else "depends"


print(book.judge(15, claim_15, share_on_loop=names.str.startswith("lab-server").mean()))
# FastAPI runs a plain def dependency through run_in_threadpool, like a def endpoint.
assert book.findings[15].verdict == "false", f"expected worker threads, saw {sorted(set(names))}"
