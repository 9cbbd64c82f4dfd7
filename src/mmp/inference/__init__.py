"""Raw rows in, predictions out: the one Scorer, the compiled featurizer, batch scoring and the pyfunc package."""
