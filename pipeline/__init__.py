"""The one mmcs pipeline definition, its configuration, runners and command line."""
