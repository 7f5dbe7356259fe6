"""Great Expectations' Data Docs site builder, rendering only what a gate run changed.

GX's `SiteBuilder` (1.x), given a run's resource identifiers, still lists the whole results store in each section
(parsing every stored key's run time with dateutil), renders the index from every stored result deserialised
through marshmallow, copies its static files again and compiles its Jinja templates again in each view: for the
marts gate with 30 runs of history that was 1 s against 0.26 s for its checks as plain SQL
(docs/benchmarks.md). These subclasses, named in the site's config (`doraflow.quality.gx_store`), keep GX's
renderers, views, templates, page paths and index, and change only the bookkeeping around them:

- a section renders the pages of the identifiers it is given (the run's new results, the suites that changed),
  taking the results from the run in hand rather than reading them back;
- the index lists the results store once, as key tuples (run times parsed with `strptime`), removes the pages of
  runs no longer in the store, and takes each listed run's success and asset from the results index the gate
  writes beside the store (`gx_store.RESULTS_INDEX`), reading a result file only when it is missing there;
- GX's static files are copied when the installed GX version's are not there yet;
- the views keep compiled templates in Jinja's bytecode cache (a folder in the system's temporary directory,
  checked against each template's source), so a new process does not compile them again.

Without identifiers (a user's `context.build_data_docs()`), each class does what GX's own does; with an empty
list, only the index is drawn again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from great_expectations.core import ExpectationSuite
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.renderer.site_builder import (
    DefaultSiteIndexBuilder,
    DefaultSiteSectionBuilder,
    SiteBuilder,
    resource_key_passes_run_name_filter,
)
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"  # how GX writes a run time in a key


def key_path(key: tuple) -> str:
    return "/".join(key)


def identifier(key: tuple) -> ValidationResultIdentifier:
    """A results key tuple as GX's identifier, its run time read with strptime (GX's from_tuple uses dateutil)."""
    from great_expectations.core.run_identifier import RunIdentifier

    run_time = datetime.strptime(key[-2], RUN_TIME_FORMAT).replace(tzinfo=UTC)
    return ValidationResultIdentifier(
        ExpectationSuiteIdentifier(".".join(key[:-3])), RunIdentifier(key[-3], run_time), key[-1]
    )


def _bytecode_cache():
    from jinja2 import FileSystemBytecodeCache

    global _CACHE
    if _CACHE is None:
        _CACHE = FileSystemBytecodeCache()
    return _CACHE


_CACHE = None


# GX passes a class only the settings its __init__ names: the views name them as GX's do
class PageView(DefaultJinjaPageView):
    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = _bytecode_cache()


class IndexPageView(DefaultJinjaIndexPageView):
    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)
        self.env.bytecode_cache = _bytecode_cache()


class RunSiteBuilder(SiteBuilder):
    def build(self, resource_identifiers=None, build_index: bool = True):
        if resource_identifiers is None:  # a whole site, as GX builds it
            return super().build(resource_identifiers, build_index)
        for section in self.site_section_builders.values():
            section.build(resource_identifiers=resource_identifiers)
        import great_expectations

        site_dir = Path(self.target_store.store_backends["index_page"].full_base_directory)
        marker = site_dir / "static" / ".great_expectations_version"
        if not marker.is_file() or marker.read_text(encoding="utf-8") != great_expectations.__version__:
            self.target_store.copy_static_assets()
            marker.write_text(great_expectations.__version__, encoding="utf-8")
        _, links = self.site_index_builder.build(build_index=build_index)
        return self.get_resource_url(only_if_exists=False), links


class RunSectionBuilder(DefaultSiteSectionBuilder):
    def build(self, resource_identifiers=None) -> None:
        if resource_identifiers is None:
            return super().build(resource_identifiers)
        from great_expectations.render.renderer.site_builder import SiteSectionIdentifier

        kind = {"validations": ValidationResultIdentifier, "expectations": ExpectationSuiteIdentifier}.get(
            self.name
        )
        in_hand = getattr(self.data_context, "doraflow_run_results", None) or {}
        for key in resource_identifiers:
            if kind is None or not isinstance(key, kind):
                continue
            if self.run_name_filter and kind is ValidationResultIdentifier:
                if not resource_key_passes_run_name_filter(key, self.run_name_filter):
                    continue
            resource = in_hand.get(key) or self.source_store.get(key)
            if kind is ExpectationSuiteIdentifier:
                resource = ExpectationSuite(**resource)
            rendered = self.renderer_class.render(resource)
            page = self.view_class.render(
                rendered, data_context_id=self.data_context_id, show_how_to_buttons=self.show_how_to_buttons
            )
            self.target_store.set(
                SiteSectionIdentifier(site_section_name=self.name, resource_identifier=key), page
            )
        return None


class RunIndexBuilder(DefaultSiteIndexBuilder):
    def _store_keys(self) -> set[tuple]:
        kept = getattr(self.data_context, "doraflow_stored_keys", None)
        if kept is not None:
            return set(kept)
        store = self.data_context.stores[
            self.site_section_builders_config["validations"]["source_store_name"]
        ]
        return set(store._store_backend.list_keys())

    def _build_validation_and_profiling_result_site_keys(self, skip_and_clean_missing: bool):
        if getattr(self.data_context, "doraflow_stored_keys", None) is None:
            return super()._build_validation_and_profiling_result_site_keys(skip_and_clean_missing)
        stored = self._store_keys()
        pages = self.target_store.store_backends[ValidationResultIdentifier]
        kept = []
        for key in pages.list_keys():
            if key in stored:
                kept.append(key)
            elif skip_and_clean_missing:  # a run dropped from the history: its page goes too
                pages.remove_key(key)
        return kept

    def _add_validations_to_index_links(self, index_links_dict, site_keys) -> None:
        summaries = getattr(self.data_context, "doraflow_summaries", None)
        if summaries is None:
            return super()._add_validations_to_index_links(index_links_dict, site_keys)
        filters = self.site_section_builders_config["validations"].get("run_name_filter")
        keys = sorted(site_keys, key=lambda k: k[-2], reverse=True)  # GX's run time format sorts as text
        if self.validation_results_limit:
            keys = keys[: self.validation_results_limit]
        for key in keys:
            run = identifier(key)
            if filters and not resource_key_passes_run_name_filter(run, filters):
                continue
            summary = summaries.get(key_path(key)) or self._summary(key)
            if summary is None:
                continue
            self.add_resource_info_to_index_links_dict(
                index_links_dict=index_links_dict,
                expectation_suite_name=run.expectation_suite_identifier.name,
                section_name="validations",
                batch_identifier=run.batch_identifier,
                run_id=run.run_id,
                validation_success=summary[0],
                run_time=run.run_id.run_time,
                run_name=run.run_id.run_name,
                asset_name=summary[1],
                batch_kwargs=summary[2],
                batch_spec=summary[3],
            )
        return None

    def _summary(self, key: tuple) -> list | None:
        """A result missing from the results index (e.g. stored by GX itself): read from its file."""
        store = self.data_context.stores[
            self.site_section_builders_config["validations"]["source_store_name"]
        ]
        try:
            result = json.loads(store._store_backend.get(key))
        except Exception:  # noqa: BLE001 - GX skips a result it cannot read, with a warning
            return None
        return summary(result)


def summary(result: dict) -> list:
    """What the index shows of a stored result (as GX's index reads it): success, asset, batch kwargs and spec."""
    meta = result.get("meta") or {}
    kwargs, spec = meta.get("batch_kwargs") or {}, meta.get("batch_spec") or {}
    asset = kwargs.get("data_asset_name") or spec.get("data_asset_name")
    asset = asset or (meta.get("active_batch_definition") or {}).get("data_asset_name")
    return [bool(result.get("success")), asset, kwargs, spec]
