"""The catalogue fixtures (`catalogue`, `filled`) come from `tests/stores.py`, registered for every folder."""
