"""The GraphQL reference page, written from the exported SDL's own descriptions.

``python -m docs.reference`` prints it; every ``mkdocs build`` writes it (docs/hooks.py), so it
never goes stale. Every type, field, argument and enum value of schema/schema.graphql is
on the page, with the error codes a client can branch on (api.errors.ErrorCode).
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    build_schema,
    get_named_type,
    print_type,
)
from graphql.language import print_ast

from api.errors import MEANINGS, ErrorCode

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
PAGE = "reference/graphql.md"  # where the site shows it, under docs/pages/

_BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def anchor(type_name: str) -> str:
    """The page's anchor for a type: its name in lower case."""
    return type_name.lower()


def member_anchor(type_name: str, member: str) -> str:
    """The anchor of a field, input field or enum value: ``type-member``, lower case."""
    return f"{type_name}-{member}".lower()


def _text(description: str | None) -> str:
    # One paragraph per description; a blank line inside would end the list item early.
    return " ".join((description or "").split())


def _type_ref(type_: GraphQLType) -> str:
    """``[EventFilter!]`` with the named type linked to its section (built-ins are not)."""
    named = get_named_type(type_)
    shown = str(type_)
    if named.name in _BUILT_IN:
        return f"`{shown}`"
    return f"[`{shown}`](#{anchor(named.name)})"


def _default(argument: GraphQLArgument | GraphQLInputField) -> str:
    node = argument.ast_node
    if node is None or node.default_value is None:
        return ""
    return f" = `{print_ast(node.default_value)}`"


def _arguments(args: dict[str, GraphQLArgument]) -> list[str]:
    lines = []
    for name, argument in args.items():
        described = _text(argument.description)
        tail = f": {described}" if described else ""
        lines.append(
            f"    - argument `{name}`: {_type_ref(argument.type)}{_default(argument)}{tail}"
        )
    return lines


def _fields(type_name: str, fields: dict[str, GraphQLField]) -> list[str]:
    lines = []
    for name, field in fields.items():
        described = _text(field.description)
        tail = f": {described}" if described else ""
        deprecated = (
            f" **Deprecated**: {field.deprecation_reason}." if field.deprecation_reason else ""
        )
        lines.append(
            f'- <a id="{member_anchor(type_name, name)}"></a>**`{name}`** '
            f"{_type_ref(field.type)}{tail}{deprecated}"
        )
        lines.extend(_arguments(field.args))
    return lines


def _input_fields(type_name: str, fields: dict[str, GraphQLInputField]) -> list[str]:
    lines = []
    for name, field in fields.items():
        described = _text(field.description)
        tail = f": {described}" if described else ""
        lines.append(
            f'- <a id="{member_anchor(type_name, name)}"></a>**`{name}`** '
            f"{_type_ref(field.type)}{_default(field)}{tail}"
        )
    return lines


def _section(named: GraphQLNamedType) -> list[str]:
    lines = [f"### {named.name} {{#{anchor(named.name)}}}", ""]
    if named.description:
        lines += [_text(named.description), ""]
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        lines += _fields(named.name, named.fields)
    elif isinstance(named, GraphQLInputObjectType):
        lines += _input_fields(named.name, named.fields)
    elif isinstance(named, GraphQLEnumType):
        for value_name, value in named.values.items():
            described = _text(value.description)
            tail = f": {described}" if described else ""
            lines.append(
                f'- <a id="{member_anchor(named.name, value_name)}"></a>**`{value_name}`**{tail}'
            )
    elif isinstance(named, GraphQLUnionType):
        lines += [f"- {_type_ref(member)}" for member in named.types]
    elif isinstance(named, GraphQLScalarType):
        lines += ["```graphql", print_type(named), "```"]
    return [*lines, ""]


def _kinds(schema: GraphQLSchema) -> list[tuple[str, list[GraphQLNamedType]]]:
    roots = [t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t]
    root_names = {root.name for root in roots}
    types = sorted(
        (t for name, t in schema.type_map.items() if not name.startswith("__")),
        key=lambda t: t.name,
    )
    types = [t for t in types if t.name not in _BUILT_IN and t.name not in root_names]

    def of(kind: type) -> list[GraphQLNamedType]:
        return [t for t in types if isinstance(t, kind)]

    return [
        ("Operations", list(roots)),
        ("Objects", of(GraphQLObjectType)),
        ("Interfaces", of(GraphQLInterfaceType)),
        ("Unions", of(GraphQLUnionType)),
        ("Input objects", of(GraphQLInputObjectType)),
        ("Enums", of(GraphQLEnumType)),
        ("Scalars", of(GraphQLScalarType)),
    ]


def render(sdl: str | None = None) -> str:
    """The reference page, in Markdown, for the SDL given (schema/schema.graphql by default)."""
    schema = build_schema(SDL.read_text(encoding="utf-8") if sdl is None else sdl)
    lines = [
        "# GraphQL reference",
        "",
        "Every type, field, argument and enum value of the API, written from the schema's own",
        "descriptions (`schema/schema.graphql`, which `trailql schema` exports) each time the",
        "site is built. [Error codes](#error-codes) are at the end.",
        "",
    ]
    for title, types in _kinds(schema):
        if not types:
            continue
        lines += [f"## {title}", ""]
        for named in types:
            lines += _section(named)
    lines += [
        "## Error codes {#error-codes}",
        "",
        "Every error carries `extensions.code`, and never a stack trace.",
        "",
        "| code | when |",
        "|---|---|",
    ]
    lines += [
        f'| <a id="error-{code.value.lower()}"></a>`{code.value}` | {MEANINGS[code]} |'
        for code in ErrorCode
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
