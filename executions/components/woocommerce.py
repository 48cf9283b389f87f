"""WooCommerce (REST API v3) connector: categories, product schema, products.

API: https://woocommerce.github.io/woocommerce-rest-api-docs/ — a consumer key
and secret, sent with HTTP Basic auth over HTTPS or, for servers that do not
pass the Authorization header on, as ``consumer_key``/``consumer_secret`` query
parameters. Over plain HTTP WooCommerce demands OAuth 1.0a, which we do not
speak: plain HTTP is accepted only for loopback shops (the demo shop and test
fakes), where keys never leave the machine.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from executions.components import register_component
from executions.components.base import Component, ComponentError, Field, Module
from executions.components.base import select_model as select_model_method
from executions.http import HttpError, get_json

API_PREFIX = "/wp-json/wc/v3"
PAGE_SIZE = 100  # the API's maximum per_page
MAX_PAGES = 50  # 5,000 rows: a result file, not an export tool
SAMPLE_PRODUCTS = 50  # products read to derive a category's schema
CSV_COLUMNS = [
    "id", "name", "sku", "type", "status", "price", "regular_price", "sale_price",
    "stock_status", "stock_quantity",
]  # fmt: skip


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WooCommerceClient:
    def __init__(self, cfg: dict[str, Any]) -> None:
        url = str(cfg.get("url") or "").strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ComponentError("the shop URL must start with https://")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ComponentError(
                "the shop URL must use https://: WooCommerce accepts a consumer "
                "key and secret only over HTTPS"
            )
        key, secret = cfg.get("consumer_key"), cfg.get("consumer_secret")
        if not key or not secret:
            raise ComponentError("the consumer key and consumer secret are required")
        self.base = url + API_PREFIX
        self.host = parts.hostname
        self.key, self.secret = str(key), str(secret)
        self.query_auth = cfg.get("auth_method") == "query"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One page: (body, headers); a clear ComponentError for every failure."""
        params = dict(params or {})
        headers = {"Accept": "application/json", "User-Agent": "scheduler/1.0"}
        if self.query_auth:
            params.update(consumer_key=self.key, consumer_secret=self.secret)
        else:
            token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            answer = get_json(
                self.base + path,
                params=params,
                headers=headers,
                timeout=settings.EXECUTION_HTTP_TIMEOUT_SECONDS,
            )
        except HttpError as exc:
            raise ComponentError(f"the shop is unreachable: {exc}") from None
        if answer.status in {401, 403}:
            raise ComponentError(
                f"the shop refused the consumer key and secret (HTTP {answer.status}"
                f"{_message(answer.body)})"
            )
        if answer.status == 404:
            raise ComponentError(f"no WooCommerce REST API v3 at {self.host}")
        if answer.status >= 400 or answer.body is None:
            raise ComponentError(
                f"the shop answered HTTP {answer.status}{_message(answer.body)}"
            )
        return answer.body, answer.headers

    def get_all(self, path: str, params: dict[str, Any], limit: int) -> list[Any]:
        """Every page (X-WP-TotalPages), up to ``limit`` rows."""
        rows: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            per_page = min(PAGE_SIZE, limit - len(rows))
            body, headers = self.get(
                path, {**params, "per_page": per_page, "page": page}
            )
            if not isinstance(body, list):
                raise ComponentError("the shop answered with something not a list")
            rows.extend(body)
            total_pages = int(_header(headers, "X-WP-TotalPages") or 1)
            if page >= total_pages or len(rows) >= limit or not body:
                break
        return rows[:limit]

    def categories(self) -> list[dict[str, Any]]:
        return self.get_all("/products/categories", {}, PAGE_SIZE * MAX_PAGES)

    def products(self, category: str, *, limit: int) -> list[dict[str, Any]]:
        return self.get_all("/products", {"category": category}, limit)


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def _message(body: Any) -> str:
    if isinstance(body, dict) and body.get("message"):
        return f": {str(body['message'])[:200]}"
    return ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "string"


def product_schema(products: list[dict[str, Any]], *, title: str) -> dict[str, Any]:
    """A JSON schema from the fields and attributes these products really have."""
    types: dict[str, set[str]] = {}
    attributes: dict[str, set[str]] = {}
    for product in products:
        for key, value in product.items():
            types.setdefault(key, set()).add(_json_type(value))
        for attribute in product.get("attributes") or []:
            options = attributes.setdefault(str(attribute.get("name", "")), set())
            options.update(str(o) for o in attribute.get("options") or [])
    properties: dict[str, Any] = {}
    for key in sorted(types):
        found = sorted(types[key] - {"null"}) or ["null"]
        if "null" in types[key] and found != ["null"]:
            found.append("null")
        properties[key] = {"type": found[0] if len(found) == 1 else found}
    if attributes:
        properties["attributes"] = {
            "type": "object",
            "title": "Attributes",
            "properties": {
                name: {"type": "string", "enum": sorted(options)}
                for name, options in sorted(attributes.items())
            },
        }
    return {"type": "object", "title": title, "properties": properties}


def product_row(product: dict[str, Any], attribute_names: list[str]) -> list[Any]:
    by_name = {
        str(a.get("name")): "|".join(str(o) for o in a.get("options") or [])
        for a in product.get("attributes") or []
    }
    return [product.get(c, "") for c in CSV_COLUMNS] + [
        by_name.get(n, "") for n in attribute_names
    ]


@register_component
class WooCommerce(Component):
    name = "woocommerce"
    title = "WooCommerce"
    description = "Products and categories of a WooCommerce shop (REST API v3)."
    version = "1.0.0"
    credentials = {
        "url": Field(
            label="Shop URL",
            type="url",
            required=True,
            placeholder="https://shop.example.com",
        ),
        "consumer_key": Field(
            label="Consumer key", type="password", required=True, secret=True
        ),
        "consumer_secret": Field(
            label="Consumer secret", type="password", required=True, secret=True
        ),
        "auth_method": Field(
            label="Send the key as",
            type="select",
            model={
                "basic": "HTTP Basic auth header (recommended)",
                "query": "Query string parameters",
            },
            note="Use query parameters only if the server drops the "
            "Authorization header.",
        ),
    }
    actions = {
        "list_products": Module(
            title="List products",
            description="Writes the products of a category to a CSV result file.",
            fields={
                "category": Field(
                    label="Category", type="select", required=True, model="categories"
                )
            },
            dynamic_metadata=True,
            service="woocommerce.list_products",
        )
    }

    def verify_credentials(self, cfg: dict[str, Any]) -> dict[str, Any]:
        try:
            WooCommerceClient(cfg).get("/products/categories", {"per_page": 1})
        except SoftTimeLimitExceeded:
            raise
        except ComponentError as exc:
            return {"verified": False, "reason": str(exc)}
        return {"verified": True}

    @select_model_method
    def categories(self, cfg: dict[str, Any]) -> dict[str, str]:
        """The shop's product categories, ``{id: name}``."""
        return {
            str(c["id"]): str(c.get("name", c["id"]))
            for c in WooCommerceClient(cfg).categories()
        }

    def get_meta_model(self, cfg: dict[str, Any], *, module: str) -> dict[str, Any]:
        if module != "list_products":
            raise ComponentError(f"{module} declares no dynamic metadata")
        category = str(cfg.get("category") or "").strip()
        if not category:
            raise ComponentError("choose a category first (field `category`)")
        products = WooCommerceClient(cfg).products(category, limit=SAMPLE_PRODUCTS)
        return {
            "in": {
                "type": "object",
                "properties": {
                    "category": {
                        "type": "string",
                        "title": "Category",
                        "const": category,
                    }
                },
                "required": ["category"],
            },
            "out": product_schema(products, title=f"Product in category {category}"),
        }
