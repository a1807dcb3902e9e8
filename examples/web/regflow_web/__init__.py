"""regflow's web example: the registration as a server-rendered FastAPI app.

    from regflow_web import WebConfig, create_app
    app = create_app(WebConfig.from_env())      # uvicorn regflow_web:app --factory ...

See examples/web/README.md for the routes, the configuration and how to embed regflow.
"""

from regflow_web.app import STATE_PATHS, create_app
from regflow_web.config import WebConfig

__all__ = ["STATE_PATHS", "WebConfig", "create_app"]
