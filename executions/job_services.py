"""Component actions as job services, so schedules can run them."""

from __future__ import annotations

from executions.components.base import ComponentError
from executions.components.woocommerce import (
    CSV_COLUMNS,
    MAX_PAGES,
    PAGE_SIZE,
    WooCommerceClient,
    product_row,
)
from executions.models import Credential
from executions.services import credential_fields
from jobruns.jobs.base import Service, ServiceError
from jobruns.registry import register


@register
class WooCommerceListProducts(Service):
    name = "woocommerce.list_products"
    description = (
        "Lists the products of a WooCommerce category into a CSV result file, "
        "using a stored WooCommerce credential."
    )
    input_schema = {
        "type": "object",
        "required": ["credential", "category"],
        "properties": {
            "credential": {"type": "string", "description": "credential name"},
            "category": {"type": ["string", "integer"]},
            "limit": {"type": "integer", "minimum": 1},
        },
    }

    def handle(self) -> None:
        payload = self.request.payload
        category = str(payload["category"])
        limit = int(payload.get("limit", PAGE_SIZE * MAX_PAGES))
        try:
            cfg = credential_fields(str(payload["credential"]))
            products = WooCommerceClient(cfg).products(category, limit=limit)
        except Credential.DoesNotExist:
            raise ServiceError(
                f"no credential is named {payload['credential']!r}"
            ) from None
        except ComponentError as exc:
            raise ServiceError(str(exc)) from None
        attributes = sorted(
            {str(a.get("name")) for p in products for a in p.get("attributes") or []}
        )
        result = self.result_file(f"products-category-{category}.csv")
        result.writerow([*CSV_COLUMNS, *attributes])
        result.writerows(product_row(p, attributes) for p in products)
        self.logger.info("%d products of category %s", len(products), category)
        self.response.payload = {"category": category, "count": len(products)}
