"""The dashboard: ``rallylens serve`` (FastAPI, optional extra ``rallylens[web]``)."""

from rallylens.web.app import create_app

__all__ = ["create_app"]
