"""Answering one GraphQL operation: every check before any work, then graphql-core.

The order is the defence: the variables' shape (no recursion), the document (parsed and
validated once, remembered; bounded by tokens, nesting and validation work), the operation
chosen, the variables coerced, the cost measured (linear, after validation), and only then
execution, under a time budget. Each refusal carries its code (``api.errors``). The metrics
and the request's log line are written here too, so every answer is counted the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from graphql import ExecutionResult as CoreExecutionResult
from graphql import GraphQLError, OperationType, execute, subscribe
from graphql.execution.values import get_variable_values
from strawberry.schema import Schema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.utils.await_maybe import await_maybe

from api.completion import PlannedExecutionContext
from api.context import Context
from api.documents import DocumentCache, PreparedDocument
from api.errors import ErrorCode, user_error, with_code
from api.inputs import check_variables
from api.limits import FieldCost, Limits, QueryShape, measure, problems
from api.live import FeedStoppedError, SlowSubscriberError
from api.operations import operation_label
from common.metrics import GRAPHQL_ERRORS, GRAPHQL_REQUEST_SECONDS, GRAPHQL_REQUESTS

#: Where a subscription event's payload keeps the results computed from it (see
#: :func:`_sharing_results`).
SHARED_RESULTS = "_trailql_results"


class OperationNotAllowedError(Exception):
    """The operation's type cannot be run over this transport (a mutation over GET)."""


class Executor:
    """Runs operations against one schema under one set of limits."""

    def __init__(
        self,
        schema: Schema,
        limits: Limits,
        costs: dict[str, FieldCost],
        *,
        time_budget: float,
        use_plans: bool = True,
    ) -> None:
        self._schema = schema
        self._costs = costs
        #: Plans complete large results (api/completion.py); False answers the standard way.
        self._executor_class = type(
            "Planned" if use_plans else "Standard",
            (PlannedExecutionContext,),
            {"use_plans": use_plans},
        )
        #: Subscription events executed once per document and variables, however many
        #: subscriptions receive them.
        self._event_executor_class = _sharing_results(self._executor_class)
        self._graphql_schema = schema._schema  # noqa: SLF001  Strawberry's graphql-core schema
        self._limits = limits
        self._time_budget = time_budget
        self._documents = DocumentCache(self._graphql_schema, limits)

    @property
    def limits(self) -> Limits:
        """The ceilings every request is held to."""
        return self._limits

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        allowed: frozenset[OperationType],
    ) -> ExecutionResult:
        """The answer to one operation, with codes on its errors; counted and logged.

        A request refused before it ran (or stopped at its time budget, with nothing kept)
        is a ``PreExecutionError``: it has no data at all, not even null.

        Raises:
            OperationNotAllowedError: the operation is a kind this transport does not run.
        """
        started = time.perf_counter()
        shape: QueryShape | None = None
        label = operation_label(operation_name)
        try:
            prepared, result, shape = await self._run(
                query, variables, operation_name, context, allowed
            )
            if operation_name is None and prepared is not None:
                label = operation_label(_only_operation_name(prepared))
            errors = [with_code(error) for error in result.errors or ()]
        except asyncio.CancelledError:
            # The client went away (or the server is stopping): count it, then stop.
            self._count(label, started, ["CANCELLED"], context)
            raise
        self._count(label, started, [_code(error) for error in errors], context)
        extensions: dict[str, Any] = {}
        if shape is not None:
            extensions["cost"] = {"requested": shape.cost, "maximum": self._limits.max_cost}
        took = context.search_took_ms
        extensions["elasticsearch"] = {"searches": len(took), "tookMs": sum(took)}
        if isinstance(result, _Refusal):
            return PreExecutionError(data=None, errors=errors or None, extensions=extensions)
        return ExecutionResult(data=result.data, errors=errors or None, extensions=extensions)

    async def _check(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        allowed: frozenset[OperationType],
    ) -> tuple[PreparedDocument | None, CoreExecutionResult | None, QueryShape | None]:
        """The document, the refusal if any check fails (None: run it), and its shape."""
        refused = check_variables(variables, self._limits)
        if refused is not None:
            return None, _refusal(refused), None
        prepared = await self._documents.get(query)
        operation = prepared.operation(operation_name)
        if operation is not None and operation.operation not in allowed:
            raise OperationNotAllowedError(operation.operation.value)
        if prepared.errors:
            return prepared, _refusal(*prepared.errors), None
        if operation is None:
            return prepared, _refusal(_no_operation(prepared, operation_name)), None
        coerced = get_variable_values(
            self._graphql_schema, operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            return prepared, _refusal(*map(_bad_input, coerced)), None
        shape = measure(operation, prepared.fragments, coerced.coerced, self._costs)
        over = problems(shape, self._limits)
        return prepared, _refusal(*over) if over else None, shape

    async def _run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        allowed: frozenset[OperationType],
    ) -> tuple[PreparedDocument | None, CoreExecutionResult, QueryShape | None]:
        prepared, refusal, shape = await self._check(query, variables, operation_name, allowed)
        if refusal is not None:
            return prepared, refusal, shape
        assert prepared is not None
        assert prepared.document is not None
        context.deadline = time.monotonic() + self._time_budget
        try:
            async with asyncio.timeout(self._time_budget):
                result = await await_maybe(
                    execute(
                        self._graphql_schema,
                        prepared.document,
                        context_value=context,
                        variable_values=variables,
                        operation_name=operation_name,
                        executor_class=self._executor_class,
                        operation_extensions=None,
                    )
                )
        except TimeoutError:
            return prepared, _refusal(_timed_out(self._time_budget)), shape
        return prepared, result, shape

    async def stream(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> AsyncIterator[ExecutionResult]:
        """A subscription's results, after the same checks as any operation.

        A refusal is one :class:`PreExecutionError` (the transport sends it as the
        operation's error); each event's result follows, with codes on its errors. The
        subscription is counted once, when it starts. Queries are answered over HTTP.
        """
        started = time.perf_counter()
        label = operation_label(operation_name)
        try:
            prepared, refusal, _ = await self._check(
                query, variables, operation_name, frozenset({OperationType.SUBSCRIPTION})
            )
        except OperationNotAllowedError as exc:
            refusal = _refusal(
                user_error(
                    ErrorCode.BAD_REQUEST,
                    f"{exc} operations are answered over HTTP (POST /graphql); WebSocket "
                    "runs subscriptions.",
                )
            )
            prepared = None
        if operation_name is None and prepared is not None:
            label = operation_label(_only_operation_name(prepared))
        source: Any = None
        if refusal is None:
            assert prepared is not None
            assert prepared.document is not None
            source = await await_maybe(
                subscribe(
                    self._graphql_schema,
                    prepared.document,
                    context_value=context,
                    variable_values=variables,
                    operation_name=operation_name,
                    executor_class=self._event_executor_class,
                    operation_extensions=None,
                )
            )
            if isinstance(source, CoreExecutionResult):
                refusal, source = source, None
        if refusal is not None:
            errors = [with_code(error) for error in refusal.errors or ()]
            self._count(label, started, [_code(error) for error in errors], context)
            yield PreExecutionError(data=None, errors=errors)
            return
        self._count(label, started, [], context)
        try:
            async for result in source:
                errors = [with_code(error) for error in result.errors or ()]
                for error in errors:
                    GRAPHQL_ERRORS.labels(code=_code(error)).inc()
                yield ExecutionResult(data=result.data, errors=errors or None)
        except (SlowSubscriberError, FeedStoppedError):
            return  # the connection is being closed, with the reason
        finally:
            await source.aclose()

    def refuse(
        self, error: GraphQLError, operation_name: str | None, context: Context
    ) -> ExecutionResult:
        """An answer given instead of running anything (a persisted query not found, say).

        Counted and logged like every other answer.
        """
        label = operation_label(operation_name)
        self._count(label, time.perf_counter(), [_code(error)], context)
        return PreExecutionError(data=None, errors=[error], extensions=None)

    def _count(self, label: str, started: float, codes: list[str], context: Context) -> None:
        GRAPHQL_REQUESTS.labels(operation=label).inc()
        GRAPHQL_REQUEST_SECONDS.labels(operation=label).observe(time.perf_counter() - started)
        for code in codes:
            GRAPHQL_ERRORS.labels(code=code).inc()
        record = context.request_record
        if record is not None:
            record.operation = label
            record.error_codes = codes


def _sharing_results(executor_class: type[Any]) -> type[Any]:
    """``executor_class``, executing each subscription event once per operation and variables.

    A live event goes to every subscription that wants it; those that sent the same
    document and variables get the same result, computed for the first and kept on the
    event's payload (:data:`SHARED_RESULTS`, set by the subscription) until it is dropped.
    The fields under a subscription read only the event, never who asks.
    """

    class Sharing(executor_class):  # type: ignore[misc]
        _sharing: tuple[dict[Any, Any], Any] | None = None
        _key: Any = None

        def build_per_event_executor(self, payload: Any) -> Any:
            shared = getattr(payload, SHARED_RESULTS, None)
            if shared is None:
                return super().build_per_event_executor(payload)
            if self._key is None:  # the same for every event of this subscription
                values = getattr(self.variable_values, "coerced", self.variable_values)
                self._key = (id(self.operation), orjson.dumps(values, default=repr))
            result = shared.get(self._key)
            if result is not None:
                return _Executed(result)
            executor = super().build_per_event_executor(payload)
            executor._sharing = (shared, self._key)  # noqa: SLF001  its own class
            return executor

        def execute_operation(self, *arguments: Any, **options: Any) -> Any:
            result = super().execute_operation(*arguments, **options)
            if self._sharing is not None and isinstance(result, CoreExecutionResult):
                shared, key = self._sharing
                shared[key] = result  # not an awaitable: it can be handed out again
            return result

    return Sharing


class _Executed:
    """An event executed already for another subscription: its result, as an executor."""

    def __init__(self, result: CoreExecutionResult) -> None:
        self._result = result

    def execute_operation(self, *_: Any, **__: Any) -> CoreExecutionResult:
        return self._result


class _Refusal(CoreExecutionResult):
    """An answer given instead of running the operation."""


def _refusal(*errors: GraphQLError) -> CoreExecutionResult:
    return _Refusal(None, list(errors))


def _bad_input(error: GraphQLError) -> GraphQLError:
    """A variable that does not fit its type: the caller's to fix."""
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        extensions={"code": ErrorCode.BAD_USER_INPUT.value},
    )


def _code(error: GraphQLError) -> str:
    return str((error.extensions or {}).get("code", ErrorCode.INTERNAL.value))


def _only_operation_name(prepared: PreparedDocument) -> str | None:
    operation = prepared.operation(None)
    return operation.name.value if operation is not None and operation.name else None


def _no_operation(prepared: PreparedDocument, name: str | None) -> GraphQLError:
    if name:
        return user_error(
            ErrorCode.BAD_USER_INPUT, f"the document has no operation named {name!r}."
        )
    if not prepared.operations:
        return user_error(ErrorCode.BAD_USER_INPUT, "the document has no operation to run.")
    return user_error(
        ErrorCode.BAD_USER_INPUT,
        "the document has several operations: name the one to run in operationName.",
    )


def _timed_out(budget: float) -> GraphQLError:
    return user_error(
        ErrorCode.TIMEOUT,
        f"the request ran past its time budget of {budget:g} s and was stopped; narrow the "
        "filter or ask for less.",
    )
