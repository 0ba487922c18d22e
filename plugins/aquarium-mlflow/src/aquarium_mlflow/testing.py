"""Helpers for tests against a real MLflow (this plugin's own and anyone's)."""

from __future__ import annotations

from ._common import client_for, mlflow_env


def purge_runs(uri: str) -> str:
    """Delete every active run at the tracking ``uri`` (MLflow keeps them as deleted until
    ``mlflow gc``), so a test sharing one server starts without runs; returns ``uri``."""
    with mlflow_env(uri):
        client = client_for(uri)
        ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
        token = None
        while ids:
            page = client.search_runs(ids, max_results=1000, page_token=token)
            for run in page:
                client.delete_run(run.info.run_id)
            token = page.token
            if not token:
                break
    return uri
