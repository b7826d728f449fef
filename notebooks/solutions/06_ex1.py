# N_DEAD + 1: even when all N_DEAD dependencies hold a connection, one is left for an endpoint;
# it finishes and gives back two, and so on. With N_DEAD, the order of section 3 deadlocks.
from fastapi import Depends  # named here so linters see FastAPI's marker

my_pool_size = N_DEAD + 1
roomy_engine = create_engine(SYNC_URL, pool_size=my_pool_size, max_overflow=0, pool_timeout=5)


def get_roomy_session():
    with Session(roomy_engine) as session:
        session.execute(text("SELECT 1"))
        time.sleep(USER_LOOKUP_S)  # every dependency holds its connection before any endpoint asks
        yield session


roomy = FastAPI(title="06 · exercise 1")


@roomy.get("/nested")
def roomy_nested(user_session: Session = Depends(get_roomy_session)):
    with Session(roomy_engine) as session:
        walked, total = session.execute(REPORT, report.params).one()
    return {"walked": walked, "total": total}


with serve(roomy) as roomy_server:
    roomy_run = await fire(roomy_server, "/nested", n=N_DEAD, label=f"pool_size={my_pool_size}")
roomy_engine.dispose()
print(f"pool_size={my_pool_size}: {Counter(roomy_run.requests['status'].tolist())}")
assert (roomy_run.requests["status"] == 200).all(), (
    f"pool_size={my_pool_size} should serve all {N_DEAD} requests with two sessions each"
)
