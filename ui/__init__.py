"""Shared Streamlit helpers for the pages: cached data and runs, the run picker, image grids."""
