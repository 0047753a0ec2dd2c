"""The command lines: `audiostyle` (python run.py), `audiostyle-encode`,
`audiostyle-compare`, `audiostyle-reproduce` and `audiostyle-render-dataset`.
"""
