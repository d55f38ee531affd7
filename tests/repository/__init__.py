"""Checks of the repository's files: deploy/, docs/, the image lock, schemas/."""
