"""Synthetic multimodal customer-service corpus generation."""
