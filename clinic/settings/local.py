"""Development on one machine: `make run`."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "0.0.0.0"])

# The demo data (seed_demo) has these coupon templates: see loyalty/demo.py.
LOYALTY_AUTO_COUPONS = env.json(
    "LOYALTY_AUTO_COUPONS",
    default={
        "welcome": "新会员礼：满300减50",
        "allowance": {"gold": "金卡年度礼券", "diamond": "钻石年度礼券"},
        "review": "好评礼：洁牙9折",
    },
)
