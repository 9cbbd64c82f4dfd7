"""Loading, checking and splitting the source data."""
