"""Model kinds that live only in the tests: each proves that serving, batch scoring and packaging need no change for a new kind."""
