"""Model definitions and pretrained-weight loaders for mmcs."""
