"""Streamlit UI shell: entry point, cached reads of engine services and shared widgets."""
