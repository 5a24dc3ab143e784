"""Imports every op family module so that each registers its ops once."""
