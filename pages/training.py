"""Training page: a placeholder until the feature arrives with the training issue."""

import streamlit as st

st.title("Training")
st.info("Not ready yet: this page arrives with the training issue.", icon=":material/construction:")
st.write("It will train classifiers on the production data and check each against the safety threshold "
         "(how often a poisonous mushroom is called edible).")
