"""The model contract (mmp.inference.wrapper.ModelWrapper) over every shipped model kind."""
