"""A mixed shop workload, following docs/API.md: what a shop's clients do, in proportion.

Each simulated user starts as a shopper of its own: a payment user with credit and a few
items of its own with stock (its own data set-up, so the shape needs nothing loaded first
and runs on any number of workers). Then it keeps creating orders, adding items, checking
out and reading, and now and then adds credit or stock or lists a new item. Items go into a
pool shared by the users of the process, so orders of different users contend for stock.

Stock and credit are topped up far beyond what a run can spend, so every call must succeed:
any answer but 2xx, or a 2xx whose body contradicts what was just done, is a failure.

    npm run load -- --shape mixed
    locust -f bench/locust/mixed.py --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 60s
"""
import random

from locust import HttpUser, between, task

# Far beyond what a run spends: an order holds at most 3 lines of quantity <= 3 at price <= 20.
STOCK_PER_ITEM = 1_000_000_000
CREDIT_PER_USER = 1_000_000_000
ITEMS_PER_USER = 3
MAX_PRICE = 20


def paid(body):
    return None if body.get("paid") is True else f"not paid: {body}"


def priced(body):
    return None if isinstance(body.get("price"), int) else f"no price in {body}"


class ShopUser(HttpUser):
    wait_time = between(0.5, 1.5)
    # Item ids every user of this process may put into orders (class-wide on purpose).
    item_pool = []

    def on_start(self):
        self.user_id = self.call("POST", "/payment/create_user", "/payment/create_user")["user_id"]
        self.call("POST", f"/payment/add_funds/{self.user_id}/{CREDIT_PER_USER}", "/payment/add_funds/[user_id]/[amount]")
        for _ in range(ITEMS_PER_USER):
            self.list_new_item()

    def call(self, method, path, name, check=None):
        """One request; its JSON body, or None when it failed (recorded as a failure)."""
        with self.client.request(method, path, name=name, catch_response=True) as response:
            if not 200 <= response.status_code < 300:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            try:
                body = response.json()
            except ValueError:
                response.failure(f"not JSON: {response.text[:200]}")
                return None
            problem = check(body) if check is not None else None
            if problem is not None:
                response.failure(problem)
                return None
            return body

    def random_item(self):
        return random.choice(ShopUser.item_pool)

    @task(1)
    def list_new_item(self):
        created = self.call("POST", f"/stock/item/create/{random.randint(1, MAX_PRICE)}", "/stock/item/create/[price]")
        if created is None:
            return
        item_id = created["item_id"]
        if self.call("POST", f"/stock/add/{item_id}/{STOCK_PER_ITEM}", "/stock/add/[item_id]/[amount]") is not None:
            ShopUser.item_pool.append(item_id)

    @task(6)
    def buy(self):
        created = self.call("POST", f"/orders/create/{self.user_id}", "/orders/create/[user_id]")
        if created is None:
            return
        order_id = created["order_id"]
        for _ in range(random.randint(1, 3)):
            path = f"/orders/addItem/{order_id}/{self.random_item()}/{random.randint(1, 3)}"
            if self.call("POST", path, "/orders/addItem/[order_id]/[item_id]/[quantity]") is None:
                return
        if self.call("POST", f"/orders/checkout/{order_id}", "/orders/checkout/[order_id]", paid) is None:
            return
        self.call("GET", f"/orders/find/{order_id}", "/orders/find/[order_id]", paid)

    @task(4)
    def browse(self):
        self.call("GET", f"/stock/find/{self.random_item()}", "/stock/find/[item_id]", priced)

    @task(2)
    def look_at_account(self):
        self.call("GET", f"/payment/find_user/{self.user_id}", "/payment/find_user/[user_id]")

    @task(1)
    def top_up(self):
        self.call("POST", f"/payment/add_funds/{self.user_id}/{random.randint(1, 100)}", "/payment/add_funds/[user_id]/[amount]")

    @task(1)
    def restock(self):
        self.call("POST", f"/stock/add/{self.random_item()}/{random.randint(1, 100)}", "/stock/add/[item_id]/[amount]")
