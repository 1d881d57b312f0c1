"""Flightline's plain Python: what the Dagster assets, the CLI and the BentoML service call.

LightGBM is imported inside the functions that train or read a model, never at module level (type
hints import it under ``TYPE_CHECKING``): with scikit-learn, SciPy and pandas, which it loads with
it, it was about half the time of loading the Dagster definitions (``bench/startup.py``).
"""
