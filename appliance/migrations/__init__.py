"""Forward-only schema migrations; each module carries frozen copies of the models it touches."""
