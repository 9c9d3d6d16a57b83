"""Tests of the Streamlit app shell and pages with AppTest."""
