"""A model server with TF Serving's REST contract, for tests, the chat service and local use.

Production serves the pushed model with the official `tensorflow/serving` image
(serving/deploy/); this package implements the same REST API in Python so that clients
can be developed and tested against the real SavedModel where no TF Serving binary runs.
"""
