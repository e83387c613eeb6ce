"""The service's web page (index.html)."""
