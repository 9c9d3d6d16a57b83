"""Classify page: a placeholder until the feature arrives with the training issue."""

import streamlit as st

st.title("Classify")
st.info("Not ready yet: this page arrives with the training issue.", icon=":material/construction:")
st.write("It will classify one mushroom from its features with the production model and say how sure it is.")
