"""ViewOnceOptions: one view per options class, the same values as Beam's own views, and copies that work."""

from __future__ import annotations

import copy
import pickle

from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    TypeOptions,
)

from beam_api_pipeline.core.beam_options import ViewOnceOptions

ARGS = ["--direct_num_workers=4", "--direct_running_mode=multi_threading", "--no_pipeline_type_check"]


def test_each_options_class_is_viewed_once_with_the_values_beam_gives():
    options = ViewOnceOptions(ARGS)
    assert options.view_as(DirectOptions) is options.view_as(DirectOptions)
    ours, beams = options.view_as(DirectOptions), PipelineOptions(ARGS).view_as(DirectOptions)
    assert (ours.direct_num_workers, ours.direct_running_mode) == (beams.direct_num_workers, "multi_threading")
    assert options.view_as(TypeOptions).pipeline_type_check is False
    assert options.get_all_options() == PipelineOptions(ARGS).get_all_options()


def test_a_value_set_through_a_view_is_seen_through_every_view():
    options = ViewOnceOptions(ARGS)
    options.view_as(StandardOptions).runner = "PrismRunner"
    assert options.view_as(StandardOptions).runner == "PrismRunner"
    assert options.get_all_options()["runner"] == "PrismRunner"


def test_a_copy_and_a_pickle_make_views_of_their_own():
    options = ViewOnceOptions(ARGS)
    kept = options.view_as(StandardOptions)
    for twin in (copy.deepcopy(options), pickle.loads(pickle.dumps(options))):
        assert type(twin) is ViewOnceOptions
        twin.view_as(StandardOptions).runner = "PrismRunner"
        assert twin.view_as(StandardOptions) is not kept
        assert (twin.view_as(StandardOptions).runner, kept.runner) == ("PrismRunner", None)
        assert twin.view_as(DirectOptions).direct_num_workers == 4
