"""CDK constructs and stacks of the tuner (``app.py`` instantiates ``TunerStack``)."""
