# The serving image: `docker build -t mmp-serve .`
#   docker run -p 8080:8080 -e MLFLOW_TRACKING_URI=http://mlflow:5000 \
#     -e MLFLOW_MODEL_NAME=credit-default -e MLFLOW_MODEL_ALIAS=champion mmp-serve
# or bake/mount a package: -v $PWD/models/package:/model -e MMP_MODEL=/model
# Env-var contract (see README "Serving and batch scoring"): MMP_MODEL | MLFLOW_MODEL_NAME with
# MLFLOW_MODEL_ALIAS or MLFLOW_MODEL_STAGE; MLFLOW_TRACKING_URI; MMP_API_TOKEN (optional bearer
# auth); MMP_MAX_BODY_BYTES, MMP_MAX_RECORDS, MMP_ONLINE_STORE* (conf/env/prod.yaml);
# MMP_POLL_SECONDS: how often a registry alias is re-read for a hot swap (default 30, 0 = off).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 APP_ENV=prod \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
WORKDIR /app
# LightGBM needs the OpenMP runtime
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
# The exact, tested pins (torch 2.13.0 from the CPU index, as in development)
COPY requirements.lock ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
COPY pyproject.toml README.md dvc.yaml ./
COPY src ./src
COPY conf ./conf
RUN pip install --no-deps . && useradd --create-home mmp
USER mmp
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health')"
# The model loads when the factory runs: a model that cannot load stops the container at start.
CMD ["uvicorn", "--factory", "mmp.serving.app:create_app", "--host", "0.0.0.0", "--port", "8080"]
