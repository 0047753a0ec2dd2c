"""The objective: Gram / L2 / histogram / MMD style distances, the content and energy terms, the
harmonic and noise terms on x_G's STFT, and the same loss and gradient in chunks. No judge is
imported here, and no judge imports this package (tests/test_architecture.py)."""
