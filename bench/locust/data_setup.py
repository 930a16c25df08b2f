"""Data set-up shared by the shapes: run once per load test, by the process that leads it."""
import requests
from locust.runners import WorkerRunner

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
    """POST a set-up call; any answer but 200 stops the test before it measures anything."""
    response = requests.post(f"{host.rstrip('/')}{path}", timeout=SETUP_TIMEOUT_S)
    if response.status_code != 200:
        raise RuntimeError(f"set-up {path} answered {response.status_code}: {response.text[:200]}")
    return response.json()
