"""The model's daily life: one scheduler-independent loop (:func:`mmp.ops.daily.loop.run_day`)
that gets the day's labelled batch, checks it, measures drift, evaluates and gates the champion,
retrains with real ``dvc exp run`` attempts, and deploys or alerts; every step is an event."""
