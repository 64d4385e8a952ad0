"""Tests for the models package."""
