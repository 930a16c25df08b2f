"""The shop's load shapes for locust (Debian's python3-locust), following docs/API.md.

  CheckoutUser (stress.py)  the course's stress shape: checkouts of random batch_init
                            orders, loading that data itself at the start of each test
  ShopUser     (mixed.py)   a mixed shop workload with its own data set-up

`npm run load` picks one (--shape stress|mixed); by hand, name the class:

    locust -f bench/locust/locustfile.py --host http://127.0.0.1:8000 --headless -u 1000 -r 200 -t 60s CheckoutUser

With no class named, locust runs both; its web UI offers the choice with --class-picker.
"""
from mixed import ShopUser  # noqa: F401 (locust finds user classes in this module)
from stress import CheckoutUser  # noqa: F401
