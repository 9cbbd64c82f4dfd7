"""Operations around the pipeline: MLflow tracking and registry, reports, CI guards, promotion."""
