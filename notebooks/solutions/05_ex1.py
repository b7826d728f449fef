N_EX1 = sized(40, 25)
# requests.get opens a new Session, and so a new connection, for every call
# (requests/api.py: request); the shared httpx.Client keeps up to 20 idle connections between
# bursts, so its second burst reuses some of them.
upstream_log.clear()
await fire(api_server, "/requests_def", n=N_EX1, params={"seconds": 0.1})
requests_conns = upstream_log.connections
upstream_log.clear()
await fire(api_server, "/httpx_def", n=N_EX1, params={"seconds": 0.1})
first_ports = upstream_log.ports()
upstream_log.clear()
await fire(api_server, "/httpx_def", n=N_EX1, params={"seconds": 0.1})
reused = len(upstream_log.ports() & first_ports)
print(
    f"/requests_def: {requests_conns} connections for {N_EX1} calls; second /httpx_def burst: "
    f"{upstream_log.connections} connections, {reused} kept from the first"
)
assert requests_conns == N_EX1, (
    f"requests should open one connection per call, saw {requests_conns}"
)
assert 1 <= reused <= 20, f"the shared httpx.Client keeps ≤ 20 idle connections, reused {reused}"
