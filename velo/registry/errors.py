class RegistryError(ValueError):
    """An invalid registry operation; the message says what and why."""
