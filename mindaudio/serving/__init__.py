"""The transcription server: an HTTP and websocket API and its web page (FastAPI)."""
