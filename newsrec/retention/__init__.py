"""Retention: each reader's risk of not coming back, and the nudges that may keep them."""
