"""ValidationGate: stops the pipeline when the ExampleValidator found anomalies."""
