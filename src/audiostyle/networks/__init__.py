"""Feature networks: the NSynth encoder (its layers, weights and Magenta's checkpoint), the random
spectrogram CNN, mu-law, and musicnn's pretrained taggers (its wheel's checkpoints). They map a waveform to named taps; they know no loss but the Gram
the NSynth encoder takes inside its stack (losses.gram) to bound its memory."""
