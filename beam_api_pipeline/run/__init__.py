"""Running a pipeline: build the graph, validate, check, run, launch, commit, report, alert, replay."""
