"""DEMO ONLY: a tiny sample WooCommerce shop under /demo/shop/wp-json/wc/v3/.

Lets a laptop try the WooCommerce component offline (shop URL
``http://127.0.0.1:8000/demo/shop``, consumer key ``ck_demo``, secret
``cs_demo``). Answers 404 unless DEMO_SHOP_ENABLED is on, which production
settings never turn on.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse

DEMO_KEY, DEMO_SECRET = "ck_demo", "cs_demo"

CATEGORIES: list[dict[str, Any]] = [
    {
        "id": 15,
        "name": "Uncategorized",
        "slug": "uncategorized",
        "parent": 0,
        "count": 0,
    },
    {"id": 21, "name": "T-shirts", "slug": "t-shirts", "parent": 0, "count": 3},
    {"id": 22, "name": "Mugs", "slug": "mugs", "parent": 0, "count": 2},
]


def _product(pid: int, name: str, price: str, category: int, **extra: Any) -> dict:
    category_row = next(c for c in CATEGORIES if c["id"] == category)
    return {
        "id": pid,
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "type": "simple",
        "status": "publish",
        "sku": f"SKU-{pid}",
        "price": price,
        "regular_price": price,
        "sale_price": "",
        "on_sale": False,
        "stock_status": "instock",
        "stock_quantity": extra.pop("stock", None),
        "categories": [{k: category_row[k] for k in ("id", "name", "slug")}],
        "attributes": extra.pop("attributes", []),
        **extra,
    }


def _attribute(name: str, *options: str) -> dict[str, Any]:
    return {"id": 0, "name": name, "position": 0, "visible": True,
            "variation": False, "options": list(options)}  # fmt: skip


PRODUCTS: list[dict[str, Any]] = [
    _product(101, "Logo Tee", "18.00", 21, stock=12,
             attributes=[_attribute("Color", "Blue", "Red"),
                         _attribute("Size", "M", "L")]),
    _product(102, "Plain Tee", "12.50", 21, stock=40,
             attributes=[_attribute("Color", "White"), _attribute("Size", "S", "M")]),
    _product(103, "V-Neck Tee", "15.00", 21, weight="0.2",
             attributes=[_attribute("Size", "XL")]),
    _product(201, "Coffee Mug", "9.00", 22, stock=5,
             attributes=[_attribute("Material", "Ceramic")]),
    _product(202, "Travel Mug", "14.00", 22, stock=0,
             attributes=[_attribute("Material", "Steel")]),
]  # fmt: skip


def authorised(request: HttpRequest, key: str, secret: str) -> bool:
    """WooCommerce's two ways: Basic auth header, or query parameters."""
    given_key = request.GET.get("consumer_key")
    given_secret = request.GET.get("consumer_secret")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            given_key, _, given_secret = base64.b64decode(token).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
    return hmac.compare_digest(str(given_key), key) and hmac.compare_digest(
        str(given_secret), secret
    )


def page(request: HttpRequest, rows: list[dict[str, Any]]) -> JsonResponse:
    per_page = max(1, min(int(request.GET.get("per_page") or 10), 100))
    number = max(1, int(request.GET.get("page") or 1))
    total_pages = max(1, -(-len(rows) // per_page))
    answer = JsonResponse(rows[(number - 1) * per_page : number * per_page], safe=False)
    answer["X-WP-Total"] = str(len(rows))
    answer["X-WP-TotalPages"] = str(total_pages)
    return answer


def unauthorised() -> JsonResponse:
    return JsonResponse(
        {"code": "woocommerce_rest_cannot_view",
         "message": "Sorry, you cannot list resources.", "data": {"status": 401}},
        status=401,
    )  # fmt: skip


def _guard(request: HttpRequest) -> JsonResponse | None:
    if not settings.DEMO_SHOP_ENABLED:
        raise Http404
    return None if authorised(request, DEMO_KEY, DEMO_SECRET) else unauthorised()


def categories(request: HttpRequest) -> JsonResponse:
    return _guard(request) or page(request, CATEGORIES)


def products(request: HttpRequest) -> JsonResponse:
    refused = _guard(request)
    if refused:
        return refused
    category = request.GET.get("category")
    rows = [
        p for p in PRODUCTS
        if not category or any(str(c["id"]) == category for c in p["categories"])
    ]  # fmt: skip
    return page(request, rows)
