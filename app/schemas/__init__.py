"""API shapes (pydantic models). They may import app.models; models never import these."""
