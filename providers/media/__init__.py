"""The media toolkit renderers and composition share: processes, probing, encoders, audio, caption art, fonts."""
