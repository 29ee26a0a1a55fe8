"""The local runner's parallel stages run no more bundles than they have elements (or keys), and every element
still reaches its DoFn exactly once (core/element_bundles.py)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import apache_beam as beam
from apache_beam.coders.coder_impl import create_OutputStream
from apache_beam.coders.coders import VarIntCoder
from apache_beam.runners.portability.fn_api_runner import execution
from apache_beam.testing.util import BeamAssertException, assert_that
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline.core.element_bundles import parts_with_elements
from tests.transform_support import pipeline

FOUR_THREADS = ("--direct_num_workers=4", "--direct_running_mode=multi_threading")
FINISHED = "finished"


@beam.typehints.with_output_types(Any)
class TagWithBundle(beam.DoFn):
    """Each element paired with an id of the bundle that processed it, and each bundle's id once more at its end
    (paired with FINISHED), so that a bundle without elements is seen too."""

    def start_bundle(self):
        self.bundle = uuid.uuid4().hex

    def process(self, element):
        yield self.bundle, element

    def finish_bundle(self):
        yield WindowedValue((self.bundle, FINISHED), MIN_TIMESTAMP, [GlobalWindow()])


def bundles_and_elements(expected_bundles: int, expected_elements: list):
    def check(tagged):
        bundles = {bundle for bundle, _ in tagged}
        elements = sorted(element for _, element in tagged if element != FINISHED)
        if len(bundles) != expected_bundles or elements != sorted(expected_elements):
            raise BeamAssertException(f"{len(bundles)} bundles of {elements}")

    return check


def test_a_stage_runs_one_bundle_per_element_or_key_up_to_the_workers():
    with pipeline(*FOUR_THREADS) as p:
        one = p | "one" >> beam.Create(["a"]) | "tag one" >> beam.ParDo(TagWithBundle())
        two_keys = (
            p
            | "keyed" >> beam.Create([("k1", 1), ("k2", 2), ("k1", 3)])
            | beam.GroupByKey()
            | beam.MapTuple(lambda key, values: (key, sorted(values)))
            | "tag groups" >> beam.ParDo(TagWithBundle())
        )
        many = p | "many" >> beam.Create(range(40)) | beam.Reshuffle() | "tag many" >> beam.ParDo(TagWithBundle())

        assert_that(one, bundles_and_elements(1, ["a"]), label="one element")
        assert_that(two_keys, bundles_and_elements(2, [("k1", [1, 3]), ("k2", [2])]), label="two keys")
        assert_that(many, bundles_and_elements(4, list(range(40))), label="forty elements")


def list_buffer(*chunks: list[int]) -> execution.ListBuffer:
    buffer = execution.ListBuffer(VarIntCoder().get_impl())
    for chunk in chunks:
        stream = create_OutputStream()
        for value in chunk:
            VarIntCoder().get_impl().encode_to_stream(value, stream, True)
        buffer.append(stream.get())
    return buffer


def test_parts_count_elements_within_chunks_and_whole_chunks_past_the_workers():
    assert parts_with_elements(list_buffer(), 4) == 0
    assert parts_with_elements(list_buffer([5, 6]), 4) == 2
    assert parts_with_elements(list_buffer([1], [2, 3]), 4) == 3
    assert parts_with_elements(list_buffer(list(range(100))), 4) == 4
    assert parts_with_elements(list_buffer([1], [2], [3], [4], [5]), 4) == 4


def test_a_buffer_already_cut_keeps_its_parts():
    buffer = list_buffer([7, 8])
    parts = buffer.partition(2)

    assert parts_with_elements(buffer, 4) == 2
    assert Counter(len(part) for part in parts) == Counter({1: 2})
