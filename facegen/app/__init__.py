"""The web app and HTTP API (the ``app`` extra: gradio, fastapi, uvicorn): ``facegen serve``."""
