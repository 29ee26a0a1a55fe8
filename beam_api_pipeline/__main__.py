"""`python -m beam_api_pipeline`: the command line.

The collector is off while the command line's modules load (Beam's, mostly: every collection would walk the
objects of the modules loaded so far, 0.1-0.15 s of a 1 s import here), and the objects they made are then
frozen, so that no later collection of the run walks them either."""

import gc

gc.disable()
from beam_api_pipeline.cli import console_main  # noqa: E402

gc.freeze()
gc.enable()
console_main()
