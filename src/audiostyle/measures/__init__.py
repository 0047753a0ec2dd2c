"""The run's diagnostics: log-mel and pitch-invariant metrics, pitch tracks, the loss curve.
Some share definitions with loss terms (the harmonic profile, flatness), so they describe what a
run optimised; whether a transfer worked is the judges' call (audiostyle.judges)."""
