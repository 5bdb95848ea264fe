"""Emulators of the Kubernetes API and the Argo Server, and pytest fixtures, for tests."""
