"""Judges: measures that no loss of the run optimises, so they can say whether a transfer worked.

A pretrained tagger's ear (musicnn's MTT_musicnn, from its wheel) and speech recognition
(pocketsphinx) against x_C's own words. This package imports nothing from audiostyle.losses or
audiostyle.optimisation, and no loss imports it (tests/test_architecture.py checks both).
"""
