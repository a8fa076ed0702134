"""MNIST Lab core: data, models, training, prediction, run and review stores.

Never imports streamlit: every computation here is a plain function a test can call.
"""
