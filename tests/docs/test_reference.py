"""The generated GraphQL reference covers every part of the exported SDL, with its description.

The SDL is read here with graphql-core's parser (the AST, not the schema docs/reference.py
builds), and every type, field, argument, enum value and error code is looked for on the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse
from graphql.language import (
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
)

from api.errors import MEANINGS, ErrorCode
from docs import reference

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _definitions() -> list[TypeDefinitionNode]:
    document = parse(SDL.read_text(encoding="utf-8"))
    return [d for d in document.definitions if isinstance(d, TypeDefinitionNode)]


def _section(page: str, type_name: str) -> str:
    """The text of a type's section: from its heading to the next heading."""
    start = page.index(f"### {type_name} {{#{type_name.lower()}}}\n")
    end = page.find("\n##", start + 1)
    return page[start : end if end != -1 else len(page)]


Member = tuple[str, str | None, list[tuple[str, str | None]]]


def _members(definition: TypeDefinitionNode) -> list[Member]:
    """(name, description, [(argument, description)]) of each field or enum value."""
    if isinstance(
        definition,
        ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode | InputObjectTypeDefinitionNode,
    ):
        return [
            (
                field.name.value,
                field.description.value if field.description else None,
                [
                    (a.name.value, a.description.value if a.description else None)
                    for a in getattr(field, "arguments", None) or ()
                ],
            )
            for field in definition.fields or ()
        ]
    if isinstance(definition, EnumTypeDefinitionNode):
        return [
            (value.name.value, value.description.value if value.description else None, [])
            for value in definition.values or ()
        ]
    assert isinstance(definition, ScalarTypeDefinitionNode | UnionTypeDefinitionNode)
    return []


def _member_block(section: str, type_name: str, member: str) -> list[str]:
    """The member's line on the page, then its argument lines."""
    lines = section.splitlines()
    marker = f'<a id="{type_name.lower()}-{member.lower()}"></a>**`{member}`**'
    starts = [i for i, line in enumerate(lines) if line.startswith(f"- {marker}")]
    assert len(starts) == 1, f"{type_name}.{member} is on the page {len(starts)} times"
    block = [lines[starts[0]]]
    for line in lines[starts[0] + 1 :]:
        if not line.startswith("    - argument "):
            break
        block.append(line)
    return block


def test_every_type_field_argument_and_enum_value_is_on_the_page_with_its_description():
    page = reference.render()
    definitions = _definitions()
    assert len(definitions) > 40  # the SDL was read, not an empty file
    checked = 0
    for definition in definitions:
        name = definition.name.value
        section = _section(page, name)
        if definition.description:
            assert _one_line(definition.description.value) in section, name
        if isinstance(definition, UnionTypeDefinitionNode):
            for member_type in definition.types or ():
                assert f"[`{member_type.name.value}`]" in section, name
        for member, described, args in _members(definition):
            line, *arg_lines = _member_block(section, name, member)
            if described:
                assert _one_line(described) in line, f"{name}.{member}"
            assert [a.split("`")[1] for a in arg_lines] == [arg for arg, _ in args], member
            for (arg, arg_described), arg_line in zip(args, arg_lines, strict=True):
                if arg_described:
                    assert _one_line(arg_described) in arg_line, f"{name}.{member}({arg})"
            checked += 1 + len(args)
    assert checked > 300


def test_every_link_on_the_page_leads_to_a_section_of_it():
    page = reference.render()
    anchors = set(re.findall(r"\{#([a-z0-9-]+)\}", page)) | set(re.findall(r'id="([^"]+)"', page))
    targets = set(re.findall(r"\]\(#([^)]+)\)", page))
    assert targets
    assert targets <= anchors


def test_every_error_code_has_a_meaning_and_is_on_the_page():
    page = reference.render()
    assert set(MEANINGS) == set(ErrorCode)
    for code in ErrorCode:
        assert (
            f'| <a id="error-{code.value.lower()}"></a>`{code.value}` | {MEANINGS[code]} |' in page
        )


def test_the_page_follows_the_sdl_it_is_given():
    # A field added to the SDL appears on the page: the page is not written from anything else.
    sdl = SDL.read_text(encoding="utf-8").replace(
        "type Query {", 'type Query {\n  """A field only this test has."""\n  canary: Int\n', 1
    )
    page = reference.render(sdl)
    assert '<a id="query-canary"></a>**`canary`** `Int`: A field only this test has.' in page
    assert "canary" not in reference.render()
