"""The course's stress shape for this shop, following docs/API.md.

Every simulated user checks out a random order among the ones batch_init made (ids "0" ..
"n-1") once a second. A checkout of an order that is already paid answers 200 as well, so
any other answer (a refusal or a 5xx) counts as a failure, as in the course's stress test.

Before each test (headless: before its clock starts) the leading process loads the data
itself, as the benchmark's stress-test/init_orders.py does (SHOP_INIT=0 skips it, for data
loaded beforehand):

    POST /payment/batch_init/{n}/1000000
    POST /stock/batch_init/{n}/1000000/1
    POST /orders/batch_init/{n}/{n}/{n}/1

SHOP_ORDERS sets n (default 100000). Run it with `npm run load`, or by hand (Debian's
python3-locust):

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000 --headless -u 1000 -r 200 -t 60s

The mixed shop workload is the other shape, in mixed.py.
"""
import os
import random

import requests
from locust import HttpUser, constant, events, task
from locust.runners import WorkerRunner

ORDERS = int(os.environ.get("SHOP_ORDERS", "100000"))
# Enough that no checkout of the run can be refused for stock or credit: each order costs 2.
STARTING_STOCK = 1_000_000
STARTING_MONEY = 1_000_000

# batch_init of 100,000 entities takes a few seconds; the gateway allows it 120 s.
SETUP_TIMEOUT_S = 130


def leads_the_test(environment, user_class):
    """True on the process that should prepare data for user_class: the master or a lone
    local runner, never a worker (workers fire init and test_start too), and only when that
    class is among the ones this test runs (the web UI's class picker may leave it out)."""
    if isinstance(environment.runner, WorkerRunner):
        return False
    return user_class in environment.user_classes


def post(host, path):
    """POST a set-up call; any answer but 200 raises (a headless run ends there, see below)."""
    response = requests.post(f"{host.rstrip('/')}{path}", timeout=SETUP_TIMEOUT_S)
    if response.status_code != 200:
        raise RuntimeError(f"set-up {path} answered {response.status_code}: {response.text[:200]}")
    return response.json()


class CheckoutUser(HttpUser):
    wait_time = constant(1)

    @task
    def checkout_random_order(self):
        order_id = random.randrange(ORDERS)
        with self.client.post(
            f"/orders/checkout/{order_id}",
            name="/orders/checkout/[order_id]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")


def load_orders(environment):
    if os.environ.get("SHOP_INIT", "1") == "0" or not leads_the_test(environment, CheckoutUser):
        return
    host = environment.host
    post(host, f"/payment/batch_init/{ORDERS}/{STARTING_MONEY}")
    post(host, f"/stock/batch_init/{ORDERS}/{STARTING_STOCK}/1")
    post(host, f"/orders/batch_init/{ORDERS}/{ORDERS}/{ORDERS}/1")


def headless(environment):
    return environment.parsed_options is not None and environment.parsed_options.headless


@events.init.add_listener
def load_before_headless_run(environment, **_kwargs):
    # A headless run's clock (-t) starts with its swarm: loading first keeps the seconds the
    # set-up takes out of the run and out of its rates.
    if not headless(environment):
        return
    try:
        load_orders(environment)
    except Exception as err:  # noqa: BLE001 (any failure: the run would only measure it)
        # locust logs a failing event handler and runs on; without its data this run would
        # only count refusals, so it ends here, non-zero.
        raise SystemExit(f"stress set-up failed: {err}") from err


@events.test_start.add_listener
def load_before_each_swarm(environment, **_kwargs):
    # In the web UI each swarm is a new test, perhaps against another host typed in the form:
    # it gets fresh orders there.
    if not headless(environment):
        load_orders(environment)
