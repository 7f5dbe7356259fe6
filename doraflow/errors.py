"""Errors a user can act on. The CLI prints their message on one line, without a traceback."""

from doraflow.config import ConfigError


class DoraflowError(Exception):
    """Base of every expected failure: the message names the cause and, where there is one, the fix."""


class SourceError(DoraflowError):
    """An API answered with an error we cannot retry away (401, 403, 404, exhausted retries, bad JSON)."""


class LoadError(DoraflowError):
    """A landed batch could not be merged into the raw layer."""


class TransformError(DoraflowError):
    """dbt failed: the message names the failing model or test."""


class QualityGateError(DoraflowError):
    """A critical expectation failed: the message names the expectation, table and sample rows."""


class PublishError(DoraflowError):
    """The serving copy, exports or report could not be written."""


USER_ERRORS = (DoraflowError, ConfigError)
