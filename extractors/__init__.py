"""Extractors: GitHub, Jira and PagerDuty into immutable landing batches (no Airflow, no DuckDB).

plan_streams(settings, sources=None) -> list[StreamTask]
extract_stream(settings, task, progress=print) -> StreamResult
extract_sources(settings, sources=None, progress=print) -> list[StreamResult]
"""

from extractors.core import StreamResult, StreamTask, extract_sources, extract_stream, plan_streams

__all__ = ["StreamResult", "StreamTask", "extract_sources", "extract_stream", "plan_streams"]
