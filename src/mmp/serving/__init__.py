"""The HTTP serving API (FastAPI) around the packaged model: model loading, the typed request
model generated from the data contract, online feature enrichment and the app factory."""
