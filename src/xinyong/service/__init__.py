"""The decision service: FastAPI app, API keys and roles, routes."""
