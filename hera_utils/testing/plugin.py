"""pytest plugin of hera_utils: fixtures serving the emulators (see hera_utils.testing)."""
