"""Running the pipeline's processes: the embedded broker, workers, the batch run."""
