"""LogExampleGen: multimodal customer-service logs to tf.Examples, with a quarantine."""
