"""GraphQL documents parsed and validated once, then remembered.

Clients send the same few documents over and over (an app's queries differ only in their
variables), and parsing plus validating costs far more than answering from a prepared
document. Refused documents are remembered too, so repeating a bad one costs a lookup.

Validation is bounded: graphql-core meters the work of comparing fields that must merge
and aborts past a budget (``max_validation_complexity``), and the parser refuses documents
over ``max_tokens`` or nested too deeply. A large document is prepared on a worker thread,
so the event loop keeps answering while it is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import graphql.validation.rules.overlapping_fields_can_be_merged as overlapping_fields
from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    ObjectValueNode,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)

from api.errors import ErrorCode
from api.limits import Limits

#: Documents up to this long are prepared on the event loop: a thread costs more than that.
_INLINE_CHARACTERS = 2_000
#: Characters of document text remembered in all, as a bound on the cache's memory.
CACHED_CHARACTERS = 2_000_000


@dataclass(frozen=True)
class PreparedDocument:
    """A parsed, validated document, or the errors that refuse it.

    A document that parses keeps its operations even when validation refuses it, so that an
    operation the transport does not run is refused as such first.
    """

    #: The length of the document's text: its weight in the cache.
    weight: int
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    operations: tuple[OperationDefinitionNode, ...] = ()
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        """The operation to run: the one named, or the only one."""
        if name:
            return next((op for op in self.operations if op.name and op.name.value == name), None)
        return self.operations[0] if len(self.operations) == 1 else None


def _input_objects_rule(most: int) -> type[ValidationRule]:
    """A rule refusing documents that write more than ``most`` input objects literally."""

    class InputObjects(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_object_value(self, node: ObjectValueNode, *_: object) -> None:
            self.count += 1
            if self.count == most + 1:
                self.report_error(
                    GraphQLError(
                        f"the document holds more than {most:,} input objects; at most "
                        f"{most:,} (TRAILQL_MAX_INPUT_OBJECTS).",
                        node,
                        extensions={"code": ErrorCode.BAD_USER_INPUT.value},
                    )
                )

    return InputObjects


def _prepare(schema: GraphQLSchema, query: str, limits: Limits) -> PreparedDocument:
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLError as error:
        return PreparedDocument(len(query), None, (error,))
    operations = tuple(
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    )
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    # graphql-core reads this budget when the rule starts; it is ours alone in this process.
    overlapping_fields.MAX_COMPLEXITY_BUDGET = limits.max_validation_complexity
    rules = (*specified_rules, _input_objects_rule(limits.max_input_objects))
    errors = tuple(validate(schema, document, rules, max_errors=20))
    return PreparedDocument(len(query), document, errors, operations, fragments)


def _weight(prepared: PreparedDocument) -> int:
    return prepared.weight


class DocumentCache:
    """Prepared documents by their text, least recently used dropped first."""

    def __init__(self, schema: GraphQLSchema, limits: Limits) -> None:
        self._schema = schema
        self._limits = limits
        self._prepared: LRUCache[str, PreparedDocument] = LRUCache(
            maxsize=CACHED_CHARACTERS, getsizeof=_weight
        )

    async def get(self, query: str) -> PreparedDocument:
        """The prepared document for ``query``, preparing it on first sight."""
        prepared = self._prepared.get(query)
        if prepared is not None:
            return prepared
        if len(query) <= _INLINE_CHARACTERS:
            prepared = self._prepare(query)
        else:
            prepared = await asyncio.to_thread(self._prepare, query)
        if len(query) <= CACHED_CHARACTERS // 100:  # one document never crowds out the rest
            self._prepared[query] = prepared
        return prepared

    def _prepare(self, query: str) -> PreparedDocument:
        return _prepare(self._schema, query, self._limits)
