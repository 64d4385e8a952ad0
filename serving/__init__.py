"""Using the pushed model: batch prediction over log folders (and, next, serving)."""
