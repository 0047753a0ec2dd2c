"""One run as a recipe: validated config -> clips -> network -> transfer -> files, pictures,
report and MLflow.
"""
