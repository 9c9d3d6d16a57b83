"""Monitoring page: a placeholder until the feature arrives with a later issue."""

import streamlit as st

st.title("Monitoring")
st.info("Not ready yet: this page arrives with a later issue.", icon=":material/construction:")
st.write("It will show data drift and model performance over time, with the alerts they raise.")
