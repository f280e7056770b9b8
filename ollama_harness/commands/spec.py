"""``ollama-harness spec validate [PATH]`` and ``ollama-harness spec show OPERATION``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ollama_harness.core.spec import Spec, default_spec_path, load_spec


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("spec", help="validate and inspect the OpenAPI spec")
    actions = parser.add_subparsers(dest="spec_command", metavar="ACTION", required=True)

    validate = actions.add_parser(
        "validate", help="check the spec with openapi-spec-validator and its own examples"
    )
    validate.add_argument("path", nargs="?", help="spec file (default: the bundled spec)")
    validate.set_defaults(func=run_validate)

    show = actions.add_parser("show", help="print one operation: route, body, responses")
    show.add_argument("operation", help="operationId, or 'METHOD /path'")
    show.add_argument("--path", dest="spec_path", help="spec file (default: the bundled spec)")
    show.set_defaults(func=run_show)


def _parameter_issues(spec: Spec) -> list[str]:
    """Examples of path and query parameters, against their parameter's schema."""
    problems: list[str] = []
    for path, item in spec.document.get("paths", {}).items():
        escaped = path.replace("~", "~0").replace("/", "~1")
        owners = [(f"/paths/{escaped}", item, path)]
        owners += [
            (f"/paths/{escaped}/{method}", op, op.get("operationId", method))
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        ]
        for pointer, owner, label in owners:
            for index, parameter in enumerate(owner.get("parameters", [])):
                if "schema" not in parameter:
                    continue
                validator = spec.validator_at(f"{pointer}/parameters/{index}/schema")
                for name, example in parameter.get("examples", {}).items():
                    for error in validator.iter_errors(example["value"]):
                        problems.append(
                            f"{label} parameter {parameter.get('name')} example {name}: "
                            f"{error.message}"
                        )
    return problems


def example_issues(spec: Spec) -> list[str]:
    """Every example in the spec checked against the schema it illustrates."""
    problems: list[str] = _parameter_issues(spec)
    for op in spec.operations.values():
        body = op.raw.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in body.get("examples", {}).items():
            for issue in spec.validate_request(op.operation_id, example["value"]):
                problems.append(f"{op.operation_id} request example {name}: {issue}")
        for status, response in op.raw.get("responses", {}).items():
            for ctype, content in response.get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    value = example["value"]
                    is_stream = ctype in ("application/x-ndjson", "text/event-stream")
                    lines = value if is_stream and isinstance(value, list) else [value]
                    for line in lines:
                        found = spec.validate_response(op.operation_id, status, line, ctype)
                        for issue in found:
                            problems.append(
                                f"{op.operation_id} {status} {ctype} example {name}: {issue}"
                            )
    return problems


def run_validate(args: argparse.Namespace) -> int:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    console = Console()
    path = args.path or str(default_spec_path())
    try:
        document, _ = read_from_filename(path)
        validate(document)
    except Exception as exc:  # unreadable file, bad YAML, or one of the validator's errors
        console.print(f"[red]invalid OpenAPI document[/red] {path}: {exc}")
        return 1
    spec = load_spec(path)
    problems = example_issues(spec)

    table = Table(title=f"{spec.document['info']['title']} {spec.version}  ({path})")
    for column in ("operation", "method", "path", "statuses", "stream"):
        table.add_column(column)
    for op in spec.operations.values():
        table.add_row(
            op.operation_id,
            op.method,
            op.path,
            " ".join(op.statuses),
            op.stream_content_type or "",
        )
    console.print(table)
    schemas = sorted(spec.document.get("components", {}).get("schemas", {}))
    console.print(f"{len(spec.operations)} operations, {len(schemas)} schemas:")
    console.print(", ".join(schemas), soft_wrap=True)
    if problems:
        console.print(f"[red]{len(problems)} example(s) do not match their schema:[/red]")
        for problem in problems:
            console.print(f"  {problem}", soft_wrap=True)
        return 1
    console.print("[green]valid OpenAPI 3.1; every example matches its schema[/green]")
    return 0


def _dereference(spec: Spec, schema: Any) -> tuple[str, Any]:
    """The component a schema names through a local ``$ref`` (its name and body), or the
    schema itself with no name."""
    name = ""
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/"):
        pointer = schema["$ref"][1:]
        name = pointer.rsplit("/", 1)[-1]
        schema = spec.resolve(pointer)
    return name, schema


def run_show(args: argparse.Namespace) -> int:
    console = Console()
    spec = load_spec(args.spec_path)
    wanted = args.operation
    op = spec.operations.get(wanted)
    if op is None and " " in wanted:
        method, path = wanted.split(" ", 1)
        op = spec.route(method, path)
    if op is None:
        console.print(f"[red]no operation {wanted!r}[/red]; known: {', '.join(spec.operations)}")
        return 2
    console.print(f"[bold]{op.operation_id}[/bold]  {op.method} {escape(op.path)}")
    if op.summary:
        console.print(escape(op.summary))
    for ctype, content in op.raw.get("requestBody", {}).get("content", {}).items():
        ref, schema = _dereference(spec, content.get("schema", {}))
        named = f" = {ref}" if ref else ""
        console.print(f"[bold]request body[/bold] ({escape(ctype)}){escape(named)}:")
        console.print_json(json.dumps(schema, default=str))
    for status, response in op.raw.get("responses", {}).items():
        bodies = []
        for ctype, content in response.get("content", {}).items():
            ref, _ = _dereference(spec, content.get("schema", {}))
            bodies.append(f"{ctype} {ref}".strip())
        shown = "; ".join(bodies) or "no body"
        text = f"{response.get('description', '')} [{shown}]".strip()
        console.print(f"[bold]{status}[/bold] {escape(text)}")
    return 0
