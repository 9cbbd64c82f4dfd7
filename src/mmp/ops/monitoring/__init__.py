"""Monitoring on the prediction log: later labels joined in (``labels``), A/B analysis (``ab``)."""
