"""A user extractor (loaded as `tests.pipeline.shaky_extractor:ShakyExtractor`) that repeats some records,
as APIs with unstable ordering do across page boundaries, and loses the key of others."""

from beam_api_pipeline.extractors.base import BaseExtractor


class ShakyExtractor(BaseExtractor):
    def _transform_item(self, item):
        if item["id"] % 17 == 0:
            yield {key: value for key, value in item.items() if key != "id"}
            return
        yield item
        if item["id"] % 10 == 0:
            yield {**item, "title": "stale copy"}
