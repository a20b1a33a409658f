"""Local HTTP servers that speak enough of the vendors' wire protocols for the real SDKs."""
