"""Registry page: a placeholder until the feature arrives with the training issue."""

import streamlit as st

st.title("Registry")
st.info("Not ready yet: this page arrives with the training issue.", icon=":material/construction:")
st.write("It will list model versions with their metrics and move them between stages, with an audit trail.")
