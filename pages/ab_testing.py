"""A/B Testing page: a placeholder until the feature arrives with a later issue."""

import streamlit as st

st.title("A/B Testing")
st.info("Not ready yet: this page arrives with a later issue.", icon=":material/construction:")
st.write("It will route predictions between two model versions and test whether their difference is significant.")
