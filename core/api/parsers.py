"""The JSON parser every API uses: DRF's, with a nesting ceiling (core.jsondepth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.jsondepth import TooDeep, check_depth, too_deep_message


class JSONParser(parsers.JSONParser):
    """400 (ParseError, so each API's handler shapes it) for JSON nested too deep."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep_message()) from None
        try:
            check_depth(data)
        except TooDeep as error:
            raise ParseError(str(error)) from None
        return data
