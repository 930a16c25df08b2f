"""The course's stress shape for this shop, following docs/API.md.

Every simulated user checks out a random order among the ones batch_init made (ids "0" ..
"99999") once a second. A checkout of an order that is already paid answers 200 as well, so
any other answer (a refusal or a 5xx) counts as a failure, as in the course's stress test.

Load the data first (what the benchmark's stress-test/init_orders.py does):

    curl -X POST http://127.0.0.1:8000/payment/batch_init/100000/1000000
    curl -X POST http://127.0.0.1:8000/stock/batch_init/100000/1000000/1
    curl -X POST http://127.0.0.1:8000/orders/batch_init/100000/100000/100000/1

then run it (Debian's python3-locust):

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000 --headless -u 1000 -r 200 -t 60s

SHOP_ORDERS changes the number of orders to draw from (default 100000).
"""
import os
import random

from locust import HttpUser, constant, task

ORDERS = int(os.environ.get("SHOP_ORDERS", "100000"))


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
