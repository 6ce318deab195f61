"""The framework floor: the smallest FastAPI app, served like the real one.

Its throughput is the ceiling for any endpoint of the service on the same server settings:
one async route, a small constant JSON body, no database, no middleware.
"""

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/ping")
async def ping() -> dict[str, str]:
    """A constant body of about the size of a small API answer."""
    return {"status": "ok", "service": "floor"}
