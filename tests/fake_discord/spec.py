"""Validate request and response bodies against Discord's OpenAPI spec (plain jsonschema, draft 2020-12).

The spec (discord/discord-api-spec ``specs/openapi.json``) is not part of this repository: it is read from
``../shared/discord-openapi.json`` next to the checkout when present, and validation is skipped otherwise.

One patch is applied on load: the spec types ``SnowflakeType`` as a string, but discord.py sends ints in
``attachments[].id``, ``allowed_mentions.users`` and ``message_reference``, and Discord accepts both.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "discord-openapi.json"

_SNOWFLAKE = {"anyOf": [{"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}, {"type": "integer", "minimum": 0}]}


class OpenAPISpec:
    def __init__(self, document: dict[str, Any]) -> None:
        doc = copy.deepcopy(document)
        doc["components"]["schemas"]["SnowflakeType"] = _SNOWFLAKE
        self._components = doc["components"]
        self._paths: dict[str, dict[str, Any]] = doc["paths"]
        # Literal segments win over parameters (``@original`` before ``{message_id}``).
        self._matchers: list[tuple[str, re.Pattern[str]]] = sorted(
            ((template, _compile(template)) for template in self._paths),
            key=lambda item: [seg.startswith("{") for seg in item[0].split("/")],
        )
        self._validators: dict[tuple[str, str, str], Draft202012Validator | None] = {}

    def match(self, path: str) -> str | None:
        """The spec's path template for a concrete path (without the ``/api/v10`` prefix)."""
        for template, pattern in self._matchers:
            if pattern.fullmatch(path):
                return template
        return None

    def check_request(self, method: str, path: str, body: Any) -> list[str]:
        template = self.match(path)
        if template is None or body is None:
            return []
        validator = self._validator(method, template, "request")
        return [f"{method} {template} request: {e}" for e in _errors(validator, body)] if validator else []

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        if not 200 <= status < 300 or body is None:
            return []
        template = self.match(path)
        if template is None:
            return []
        validator = self._validator(method, template, f"response:{status}")
        return [f"{method} {template} response {status}: {e}" for e in _errors(validator, body)] if validator else []

    def _validator(self, method: str, template: str, kind: str) -> Draft202012Validator | None:
        key = (method.lower(), template, kind)
        if key not in self._validators:
            self._validators[key] = self._build(*key)
        return self._validators[key]

    def _build(self, method: str, template: str, kind: str) -> Draft202012Validator | None:
        operation = self._paths[template].get(method)
        if operation is None:
            return None
        if kind == "request":
            content = operation.get("requestBody", {}).get("content", {})
        else:
            response = operation.get("responses", {}).get(kind.split(":")[1])
            if response is None:
                return None
            if "$ref" in response:
                response = self._resolve(response["$ref"])
            content = response.get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            return None
        return Draft202012Validator({**schema, "components": self._components})

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = {"components": self._components}
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)


def _compile(template: str) -> re.Pattern[str]:
    parts = [re.escape(seg) if not seg.startswith("{") else r"[^/]+" for seg in template.split("/")]
    return re.compile("/".join(parts))


def _errors(validator: Draft202012Validator, body: Any) -> Iterator[str]:
    for error in validator.iter_errors(body):
        # best_match descends into anyOf/oneOf contexts to the most relevant (deepest) failure.
        yield _describe(best_match([error]))


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "<body>"
    if error.validator == "required":
        return f"{where}: {error.message}"
    value = json.dumps(error.instance, default=str)
    if len(value) > 80:
        value = value[:77] + "..."
    return f"{where}: failed {error.validator}={json.dumps(error.validator_value, default=str)[:60]} ({value})"


@functools.cache
def load_spec(path: Path = DEFAULT_SPEC_PATH) -> OpenAPISpec | None:
    """The patched spec, loaded once per process; None when the file is absent."""
    if not path.is_file():
        return None
    return OpenAPISpec(json.loads(path.read_text(encoding="utf-8")))
