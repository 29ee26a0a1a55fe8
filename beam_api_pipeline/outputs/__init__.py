"""Outputs: where rows land. Each type is a BaseOutput registered in the PipelineFactory."""

from beam_api_pipeline.outputs.base import BaseOutput, OutputContext, OutputEndpoint
from beam_api_pipeline.outputs.files import LocalOutput

__all__ = ["BaseOutput", "LocalOutput", "OutputContext", "OutputEndpoint"]
